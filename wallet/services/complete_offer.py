"""The phone has signed what an issuance waits for with the keys it keeps: the holder
keys' proofs of the credential requests, and where the wallet instance's keys are on the
phone too, the proofs of the step under way (``device_rounds``). Every signature is
checked against its key and signing input before the step goes on; a wrong one leaves the
issuance waiting for the right ones."""

from __future__ import annotations

from core.errors import InvalidRequest
from wallet.domain import FlowKind, FlowState
from wallet.services.begin_authorization import resume_push
from wallet.services.claim_flow import claim_flow, end_claim
from wallet.services.context import WalletContext
from wallet.services.device_rounds import accept_signatures
from wallet.services.fetch_deferred import resume_deferred
from wallet.services.finish_authorization import resume_token
from wallet.services.interaction_messages import DeviceSignatures, OfferOutcome
from wallet.services.offer_flow import read_offer_flow
from wallet.services.renew_on_phone import resume_renewal
from wallet.services.request_credentials import request_credentials


async def complete_offer(
    context: WalletContext, account_id: str, offer_id: str, body: DeviceSignatures
) -> OfferOutcome:
    try:
        claimed = await claim_flow(
            context, account_id, offer_id, FlowKind.OFFER, FlowState.PROOFS_NEEDED
        )
    except InvalidRequest:
        # a deferred issuance stays pending while the phone signs its requests' proofs
        claimed = await claim_flow(context, account_id, offer_id, FlowKind.OFFER, FlowState.PENDING)
        flow = await read_offer_flow(context, claimed)
        if flow.round is None or flow.round.step not in ("deferred", "refresh"):
            await end_claim(context, claimed, FlowState.PENDING)
            raise InvalidRequest("the issuance waits for no signatures") from None
    else:
        flow = await read_offer_flow(context, claimed)
    keys = flow.holder_keys(account_id, context.clock.now())
    try:
        signatures = accept_signatures(context, flow, account_id, keys, body.signatures)
    except BaseException:
        # back to where it waited: proofs_needed, or pending for a deferred issuance
        await end_claim(context, claimed, claimed.flow.state)
        raise
    step = "credentials" if flow.round is None else flow.round.step
    if step == "push":
        return await resume_push(context, claimed, flow)
    if step == "token":
        return await resume_token(context, claimed, flow)
    if step == "refresh" and flow.renews is not None:
        return await resume_renewal(context, claimed, flow)
    if step in ("deferred", "refresh"):
        return await resume_deferred(context, claimed, flow)
    return await request_credentials(
        context,
        claimed,
        flow,
        keys=keys,
        signatures=signatures,
        resumed=flow.round is not None,
    )
