"""The citizen accepts an offer of the authorization code flow, or asks an issuer for a
credential themselves (``start_issuance``): the wallet pushes its authorization request
(``authorization_plan``) and hands back the URL the citizen's browser opens at the
issuer; the flow waits, ``authorization_required``, for the redirect back
(``finish_authorization``). Holder keys a phone sends now are kept for the credential
requests; a phone may also send them with the redirect. A phone that keeps the wallet
instance's keys too (``instance_keys``) signs the pushed request's proof first
(``device_rounds``)."""

from __future__ import annotations

from msgspec import UnsetType

from core.errors import InvalidRequest, ProtocolError
from wallet.domain import Custody, FlowState
from wallet.services.authorization_plan import authorization_url
from wallet.services.claim_flow import ClaimedFlow, end_claim
from wallet.services.context import WalletContext
from wallet.services.device_rounds import await_round
from wallet.services.holder_keys import KeptHolderKey, device_keys
from wallet.services.instance_keys import InstanceKeys
from wallet.services.interaction_messages import (
    InstanceKeyPair,
    IssuanceStart,
    OfferAcceptance,
    OfferOutcome,
)
from wallet.services.offer_flow import OfferFlow
from wallet.services.refused_issuance import record_refused_issuance
from wallet.services.sealing import AccountBox
from wallet.services.sender_constrained import PhoneMustSign


def take_custody(
    box: AccountBox, flow: OfferFlow, body: OfferAcceptance | IssuanceStart, now: float
) -> None:
    """Who keeps the keys of this issuance: the phone's holder keys, when sent now, and
    the phone's instance keys instead of the ones made here, when sent."""
    plan = flow.authorization
    if plan is None:
        raise RuntimeError("an authorization code flow without a plan")
    plan.custody = body.custody
    instance = body.instance_keys
    if isinstance(instance, InstanceKeyPair):
        if body.custody != Custody.DEVICE.value:
            raise InvalidRequest("instance_keys are the phone's: send them with custody device")
        plan.keys = InstanceKeys.of_device(box, instance.attestation, instance.dpop, now)
    if body.custody == Custody.DEVICE.value and not isinstance(body.holder_keys, UnsetType):
        flow.keys = [KeptHolderKey.of(key) for key in device_keys(box, body.holder_keys, now)]


async def begin_authorization(
    context: WalletContext, claimed: ClaimedFlow, flow: OfferFlow, body: OfferAcceptance
) -> OfferOutcome:
    """Push the request of a claimed flow and leave it waiting for the citizen's return;
    the caller ends the claim when this raises."""
    take_custody(claimed.box, flow, body, context.clock.now())
    return await _push(context, claimed, flow, resumed=False)


async def resume_push(
    context: WalletContext, claimed: ClaimedFlow, flow: OfferFlow
) -> OfferOutcome:
    """The phone signed the pushed request's proof: push it. A refusal ends the flow."""
    try:
        return await _push(context, claimed, flow, resumed=True)
    except BaseException:
        await end_claim(context, claimed, FlowState.FAILED)
        raise


async def _push(
    context: WalletContext, claimed: ClaimedFlow, flow: OfferFlow, *, resumed: bool
) -> OfferOutcome:
    try:
        url = await authorization_url(context, claimed.box, claimed.flow_id, flow)
    except PhoneMustSign:
        return await await_round(context, claimed, flow, "push", again=resumed)
    except ProtocolError as refused:
        await record_refused_issuance(context, claimed.box, flow, refused)
        raise
    await end_claim(context, claimed, FlowState.AUTHORIZATION_REQUIRED, flow.content())
    return OfferOutcome(
        offer_id=claimed.flow_id,
        status=FlowState.AUTHORIZATION_REQUIRED.value,
        authorization_url=url,
        holder_keys_needed=keys_still_needed(flow),
    )


def keys_still_needed(flow: OfferFlow) -> int:
    """The phone's public keys the redirect must bring (none for keys held here)."""
    plan = flow.authorization
    if plan is None or plan.custody != "device" or flow.keys:
        return 0
    return flow.holder_keys_needed
