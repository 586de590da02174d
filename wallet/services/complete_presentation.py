"""The phone's signatures for a presentation whose holder keys it keeps: each signature (a
KB-JWT's, or an mdoc's DeviceAuth over its ``Sig_structure``) is checked against its
device-bound key (``holder_keys``; the key the approval asked it to sign with, sealed in
the flow), the presentations are assembled (RFC 9901 §4.3; an
mdoc's ``DeviceResponse``, OpenID4VP 1.0 Appendix B.2.5) and sent (``answer_verifier``)."""

from __future__ import annotations

import msgspec

from core.encoding import b64url_decode, b64url_encode
from wallet.domain import MSO_MDOC, Custody, FlowState, HolderKey, NotFound
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


def _signing_key(account_id: str, part: PreparedCredential) -> HolderKey:
    """The device-held key the phone was asked to sign with, as the approval sealed it in
    the flow with its signing request."""
    if part.signing_request is None:
        raise ValueError(f"the presentation for {part.query_id!r} asked for no signature")
    return HolderKey(
        part.holder_key_id, account_id, Custody.DEVICE, part.signing_request.holder_key, None, 0.0
    )


async def complete(
    context: WalletContext, account_id: str, presentation_id: str, body: DeviceSignatures
) -> PresentationOutcome:
    # which credentials the citizen still holds, read with the claim: one deleted since
    # the approval is not shown (its holder key went with it)
    claimed, content = await claim_presentation(
        context,
        account_id,
        presentation_id,
        FlowState.SIGNATURES_NEEDED,
        listing=True,
        contents=False,
    )
    held = {stored.credential_id for stored in claimed.listed or ()}
    pending = [p for p in content.prepared if p.custody is Custody.DEVICE]
    try:
        if any(p.credential_id not in held for p in content.prepared):
            await end_claim(context, claimed, FlowState.FAILED)
            raise NotFound("a key this presentation was to be signed with is gone; scan again")
        signatures = device_signatures(
            [_signing_key(account_id, p) for p in pending],
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
