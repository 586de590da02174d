"""The citizen accepts an offer of the authorization code flow, or asks an issuer for a
credential themselves (``start_issuance``): the wallet pushes its authorization request
(``authorization_plan``) and hands back the URL the citizen's browser opens at the
issuer; the flow waits, ``authorization_required``, for the redirect back
(``finish_authorization``). Holder keys a phone sends now are kept for the credential
requests; a phone may also send them with the redirect."""

from __future__ import annotations

from msgspec import UnsetType

from core.errors import ProtocolError
from wallet.domain import FlowState
from wallet.services.authorization_plan import authorization_url
from wallet.services.claim_flow import ClaimedFlow, end_claim
from wallet.services.context import WalletContext
from wallet.services.holder_keys import KeptHolderKey, device_keys
from wallet.services.interaction_messages import OfferAcceptance, OfferOutcome
from wallet.services.offer_flow import OfferFlow
from wallet.services.refused_issuance import record_refused_issuance


async def begin_authorization(
    context: WalletContext, claimed: ClaimedFlow, flow: OfferFlow, body: OfferAcceptance
) -> OfferOutcome:
    """Push the request of a claimed flow and leave it waiting for the citizen's return;
    the caller ends the claim when this raises."""
    plan = flow.authorization
    if plan is None:
        raise RuntimeError("an authorization code flow without a plan")
    plan.custody = body.custody
    if body.custody == "device" and not isinstance(body.holder_keys, UnsetType):
        keys = device_keys(claimed.box, body.holder_keys, context.clock.now())
        flow.keys = [KeptHolderKey.of(key) for key in keys]
    try:
        url = await authorization_url(context, claimed.box, claimed.flow_id, flow)
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
