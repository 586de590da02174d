"""The phone asks for a fresh batch of a one-time credential whose holder keys it keeps
(``one_time_use``; OpenID4VCI 1.0 §6.1 with RFC 6749 §6, §8.2).

The housekeeping cannot sign new key proofs with keys on the phone, so such a credential
is listed ``renewal_due`` and the phone asks: ``POST /wallet/credentials/{id}/renew`` with
one fresh public key per instance of the issuer's batch. The renewal is an issuance flow
of its own (its id the ``offer_id`` of the answers), from what the credential keeps of
its issuance: the access token is renewed with the refresh token (``refresh``: with the
wallet attestation's PoP and a DPoP proof, signed by the phone where the instance keys
are its own), the rotated refresh token is kept with the credential at once, and the
credential requests are made ready for the phone to sign (``credentials``), as in any
issuance to the phone (``POST /wallet/offers/{id}/complete``). What the issuer sends is
verified like any credential and joins the copies not yet shown (``keep_received``).
"""

from __future__ import annotations

import uuid

from core.errors import InvalidRequest
from wallet.domain import Custody, Flow, FlowKind, FlowState, NotFound
from wallet.services.claim_flow import ClaimedFlow
from wallet.services.context import WalletContext
from wallet.services.credential_records import open_record
from wallet.services.device_rounds import await_round
from wallet.services.holder_keys import KeptHolderKey, device_keys
from wallet.services.interaction_messages import CredentialRenewal, OfferOutcome
from wallet.services.offer_flow import OfferFlow
from wallet.services.one_time_use import keep_refresh_token
from wallet.services.prepare_credential_requests import prepare_requests
from wallet.services.refused_issuance import fail_issuance
from wallet.services.sender_constrained import PhoneMustSign, renew_access_token


async def renew_on_phone(
    context: WalletContext, account_id: str, credential_id: str, body: CredentialRenewal
) -> OfferOutcome:
    stored = await context.store.credentials.get(account_id, credential_id)
    if stored is None:
        raise NotFound("no such credential")
    box = await context.box(account_id)
    record = open_record(box, stored)
    if record.renewal is None:
        raise InvalidRequest("the issuer gives no fresh copies of this credential")
    if not record.renewed_by_phone:
        raise InvalidRequest("the wallet service renews this credential by itself")
    flow = OfferFlow.opened(record.renewal)
    now = context.clock.now()
    keys = device_keys(box, body.holder_keys, now)
    if len(keys) != flow.instances:
        raise InvalidRequest(f"a fresh batch of this credential takes {flow.instances} holder keys")
    flow.renews = credential_id
    flow.keys = [KeptHolderKey.of(key) for key in keys]
    flow_id = str(uuid.uuid4())
    renewal = Flow(
        flow_id,
        account_id,
        FlowKind.OFFER,
        FlowState.BUSY,
        box.seal("flow", flow_id, flow.content()),
        now + context.policy.flow_lifetime,
    )
    await context.keep_flow(renewal)
    return await _renew_token(context, ClaimedFlow(renewal, box, flow.content()), flow, again=False)


async def resume_renewal(
    context: WalletContext, claimed: ClaimedFlow, flow: OfferFlow
) -> OfferOutcome:
    """The phone signed the proofs of renewing the access token."""
    return await _renew_token(context, claimed, flow, again=True)


async def _renew_token(
    context: WalletContext, claimed: ClaimedFlow, flow: OfferFlow, *, again: bool
) -> OfferOutcome:
    assert flow.renews is not None  # a renewal flow
    try:
        try:
            await renew_access_token(context, claimed.box, flow)
        except PhoneMustSign:
            return await await_round(context, claimed, flow, "refresh", again=again)
        await keep_refresh_token(context, claimed.box, flow.renews, flow)
    except BaseException as failed:
        await fail_issuance(context, claimed, flow, failed)
        raise
    keys = flow.holder_keys(claimed.box.account_id, context.clock.now())
    return await prepare_requests(context, claimed, flow, keys=keys, custody=Custody.DEVICE)
