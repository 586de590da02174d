"""The phone's signatures for a presentation whose holder keys it keeps: each KB-JWT
signature is checked against its device-bound key (``holder_keys``), the presentations
are assembled (RFC 9901 §4.3) and sent (``answer_verifier``)."""

from __future__ import annotations

import msgspec

from core.encoding import b64url_encode
from wallet.domain import Custody, FlowState, NotFound
from wallet.services.answer_verifier import send_presentation
from wallet.services.claim_flow import end_claim
from wallet.services.context import WalletContext
from wallet.services.holder_keys import device_signatures
from wallet.services.interaction_messages import DeviceSignatures, PresentationOutcome
from wallet.services.presentation_flow import claim_presentation


async def complete(
    context: WalletContext, account_id: str, presentation_id: str, body: DeviceSignatures
) -> PresentationOutcome:
    claimed, content = await claim_presentation(
        context, account_id, presentation_id, FlowState.SIGNATURES_NEEDED
    )
    pending = [p for p in content.prepared if p.custody is Custody.DEVICE]
    try:
        keys = await context.store.holder_keys.get(account_id, [p.holder_key_id for p in pending])
        by_id = {k.holder_key_id: k for k in keys}
        if any(p.holder_key_id not in by_id for p in pending):
            await end_claim(context, claimed, FlowState.FAILED)
            raise NotFound("a key this presentation was to be signed with is gone; scan again")
        signatures = device_signatures(
            [by_id[p.holder_key_id] for p in pending],
            [p.signing_input for p in pending],
            body.signatures,
        )
    except NotFound:
        raise
    except BaseException:
        await end_claim(context, claimed, FlowState.SIGNATURES_NEEDED)
        raise
    # the signatures come in the order of the device-held parts, which keep their places
    assembled = iter(
        [
            part.sd_jwt + part.signing_input + "." + b64url_encode(signature)
            for part, signature in zip(pending, signatures, strict=True)
        ]
    )
    prepared = [
        msgspec.structs.replace(part, presentation=next(assembled))
        if part.custody is Custody.DEVICE
        else part
        for part in content.prepared
    ]
    return await send_presentation(context, claimed, content.request, prepared)
