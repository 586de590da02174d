"""What a presentation flow keeps between its steps (``scan_presentation`` →
``approve_presentation`` → ``complete_presentation`` | ``decline_presentation``): the
checked request and, once the citizen agreed, each credential prepared for the verifier.

The content is sealed under the citizen's data key as plain JSON (``msgspec.to_builtins``)
and read back into these structs; content in any other shape (sealed by an earlier
version of the wallet) is no presentation request a step can take on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from wallet.domain import SD_JWT_VC, Custody, FlowKind, FlowState, NotFound, StoredCredential
from wallet.services.claim_flow import ClaimedFlow, claim_flow, end_claim
from wallet.services.consent import Holding
from wallet.services.context import WalletContext
from wallet.services.credential_records import open_record
from wallet.services.credentials import StatusReader
from wallet.services.interaction_messages import SigningRequest
from wallet.services.request_object import CheckedRequest
from wallet.services.sealing import AccountBox

UNKNOWN_PRESENTATION = "no such presentation request"


class PreparedCredential(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One answered credential query: the SD-JWT cut down to the agreed claims and the
    signing input of its KB-JWT, or for an mdoc the ``IssuerSigned`` cut down to the
    agreed elements (``issuer_signed``) and its DeviceAuth's ``Sig_structure``
    (``signing_input``, base64url); and the presentation once the holder key has signed
    (at once for a server-held key; ``signing_request`` for the phone otherwise)."""

    query_id: str
    credential_id: str
    custody: Custody
    holder_key_id: str
    sd_jwt: str
    signing_input: str
    credential: str  # the credential's name, as the activity log shows it
    issuer: str
    claims: list[str]  # the shared claims' labels
    paths: list[str]
    presentation: str | None = None
    signing_request: SigningRequest | None = None
    #: Which copy of the credential was shown (a short fingerprint of its issuer-signed
    #: part), and whether it had been shown before (linkable to that presentation).
    instance: str = ""
    linkable: bool = False
    format: str = SD_JWT_VC
    issuer_signed: str | None = None


class PresentationFlow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The sealed content of a presentation flow."""

    request: CheckedRequest
    prepared: list[PreparedCredential] = msgspec.field(default_factory=list)

    def sealable(self) -> dict[str, Any]:
        """The content as the plain JSON object ``AccountBox.seal`` takes."""
        plain: dict[str, Any] = msgspec.to_builtins(self)
        return plain


async def claim_presentation(
    context: WalletContext,
    account_id: str,
    presentation_id: str,
    expected: FlowState,
    *,
    listing: bool = False,
    contents: bool = True,
) -> tuple[ClaimedFlow, PresentationFlow]:
    """The presentation flow, claimed from ``expected``, with its content (and with
    ``listing``, the citizen's credentials). A flow whose content is not in this shape is
    failed and answered as unknown (``NotFound``)."""
    claimed = await claim_flow(
        context,
        account_id,
        presentation_id,
        FlowKind.PRESENTATION,
        expected,
        listing=listing,
        contents=contents,
    )
    try:
        content = msgspec.convert(claimed.content, PresentationFlow)
    except msgspec.ValidationError:
        await end_claim(context, claimed, FlowState.FAILED)
        raise NotFound(UNKNOWN_PRESENTATION) from None
    return claimed, content


async def holdings(
    context: WalletContext, box: AccountBox, listed: Sequence[StoredCredential] | None = None
) -> list[Holding]:
    """The citizen's credentials (``listed``, or read now), each with its live status."""
    reader = StatusReader(context)
    held = []
    if listed is None:
        listed = await context.store.credentials.list(box.account_id)
    for stored in listed:
        credential = open_record(box, stored)
        held.append(Holding(stored, credential, await reader.status(credential.listing())))
    return held


def verifier_name(request: CheckedRequest) -> str:
    """Who asked, as the activity log names them: the certificate's name, or the client
    identifier where none proves a name."""
    return request.certificate_name or request.client_id
