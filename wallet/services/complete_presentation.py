"""The phone's signatures for a presentation whose holder keys it keeps: each signature (a
KB-JWT's, or an mdoc's DeviceAuth over its ``Sig_structure``) is checked against its
device-bound key (``holder_keys``), the presentations are assembled (RFC 9901 §4.3; an
mdoc's ``DeviceResponse``, OpenID4VP 1.0 Appendix B.2.5) and sent (``answer_verifier``)."""

from __future__ import annotations

import msgspec

from core.encoding import b64url_decode, b64url_encode
from wallet.domain import MSO_MDOC, Custody, FlowState, NotFound
from wallet.services.answer_verifier import send_presentation
from wallet.services.claim_flow import end_claim
from wallet.services.context import WalletContext
from wallet.services.holder_keys import device_signatures
from wallet.services.interaction_messages import DeviceSignatures, PresentationOutcome
from wallet.services.mdoc_presentation import device_response
from wallet.services.presentation_flow import PreparedCredential, claim_presentation
from wallet.services.request_object import CheckedRequest


def _signed(part: PreparedCredential) -> str | bytes:
    """What the phone signed: a KB-JWT's signing input, or an mdoc's ``Sig_structure``."""
    return b64url_decode(part.signing_input) if part.format == MSO_MDOC else part.signing_input


def _assembled(part: PreparedCredential, request: CheckedRequest, signature: bytes) -> str:
    if part.format == MSO_MDOC:
        if part.issuer_signed is None:
            raise ValueError("an mdoc presentation was kept without its document")
        return device_response(part.issuer_signed, part.signing_input, request, signature)
    return part.sd_jwt + part.signing_input + "." + b64url_encode(signature)


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
            [_signed(p) for p in pending],
            body.signatures,
        )
    except NotFound:
        raise
    except BaseException:
        await end_claim(context, claimed, FlowState.SIGNATURES_NEEDED)
        raise
    # the signatures come in the order of the device-held parts, which keep their places
    try:
        assembled = iter(
            [
                _assembled(part, content.request, signature)
                for part, signature in zip(pending, signatures, strict=True)
            ]
        )
    except BaseException:
        await end_claim(context, claimed, FlowState.FAILED)
        raise
    prepared = [
        msgspec.structs.replace(part, presentation=next(assembled))
        if part.custody is Custody.DEVICE
        else part
        for part in content.prepared
    ]
    return await send_presentation(context, claimed, content.request, prepared)
