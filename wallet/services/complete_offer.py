"""The phone has signed the key proofs of an accepted offer with the keys it keeps: the
signatures are checked against the holder keys and the prepared signing inputs before
the credentials are requested (``request_credentials``). A wrong signature leaves the
offer waiting for the right ones."""

from __future__ import annotations

from wallet.domain import FlowKind, FlowState
from wallet.services.claim_flow import claim_flow, end_claim
from wallet.services.context import WalletContext
from wallet.services.holder_keys import device_signatures
from wallet.services.interaction_messages import DeviceSignatures, OfferOutcome
from wallet.services.offer_flow import read_offer_flow
from wallet.services.request_credentials import keys_of, request_credentials


async def complete_offer(
    context: WalletContext, account_id: str, offer_id: str, body: DeviceSignatures
) -> OfferOutcome:
    claimed = await claim_flow(
        context, account_id, offer_id, FlowKind.OFFER, FlowState.PROOFS_NEEDED
    )
    flow = await read_offer_flow(context, claimed)
    keys = flow.holder_keys(account_id, context.clock.now())
    try:
        ordered = [k for r in flow.requests for k in keys_of(keys, r.key_ids)]
        inputs = [i for r in flow.requests for i in r.signing_inputs]
        signatures = device_signatures(ordered, inputs, body.signatures)
    except BaseException:
        await end_claim(context, claimed, FlowState.PROOFS_NEEDED)
        raise
    return await request_credentials(context, claimed, flow, keys=keys, signatures=signatures)
