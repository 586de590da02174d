"""What a service counter sends to ask a citizen's wallet for a presentation, and what it
gets back (the counter API)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from core.messages import LocalizedName, LocalizedText, Message, ProblemBody
from verifiers.domain import TransactionState


class PresentationRequestCreation(ProblemBody):
    """A check the counter is registered for (``template``), or its own DCQL query within
    what it is registered for; how the wallet answers; whether the citizen is on the same
    device (a link instead of a QR code); whether the images come inline."""

    template: Annotated[str, msgspec.Meta(max_length=100, examples=["age_over_18"])] | UnsetType = (
        UNSET
    )
    dcql_query: dict[str, Any] | UnsetType = UNSET
    response_mode: Annotated[
        str, msgspec.Meta(description="direct_post, or direct_post.jwt for an encrypted answer")
    ] = "direct_post"
    same_device: bool = False
    request_uri_method: Annotated[str, msgspec.Meta(description="get or post")] = "get"
    qr_inline: bool = False
    same_device_redirect_uri: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=2048,
                description="Same-device only: the page of this deployment the wallet sends"
                " the browser back to, with #response_code=… (by default the verifier's own"
                " landing page)",
            ),
        ]
        | UnsetType
    ) = UNSET


class RequestQr(Message):
    svg_url: str
    png_url: str
    svg: str | UnsetType = UNSET
    png_base64: str | UnsetType = UNSET


class PresentationRequestCreated(Message):
    transaction_id: str
    status: str
    uri: Annotated[str, msgspec.Meta(description="What the QR code (or the link) carries.")]
    request_uri: str
    client_id: str
    response_mode: str
    dcql_query: dict[str, Any]
    expires_at: Annotated[str | None, msgspec.Meta(description="RFC 3339, UTC.")]
    status_url: str
    events_url: str
    qr: RequestQr
    same_device_link: str | UnsetType = UNSET
    session_token: str | UnsetType = UNSET


class SameDeviceRelease(ProblemBody):
    """The same-device result asked for by the session that started the request: the
    ``response_code`` the wallet redirected the browser with, and the session's token."""

    response_code: Annotated[str, msgspec.Meta(max_length=4096)]
    session_token: Annotated[str, msgspec.Meta(max_length=4096)]


class CheckOutcome(Message):
    """One validation step and whether it passed; ``detail`` says what was found."""

    step: Annotated[str, msgspec.Meta(examples=["national_id.issuer_signature"])] = msgspec.field(
        name="check"
    )
    passed: bool
    detail: str | UnsetType = UNSET


class ClaimLabel(Message):
    locale: str
    label: str


class LabelledClaim(Message):
    """What a proven claim is called, per language: from an SD-JWT VC's Type Metadata, or
    for an mdoc (``path`` ``[namespace, element]``) from its issuer's Credential Issuer
    Metadata."""

    path: list[str | int | None]
    display: list[ClaimLabel]


class ProvedCredential(Message):
    """What one presented credential proved: the requested claims only, with the issuer
    (``iss``) and, where a certificate names it, the issuer's name. An SD-JWT VC names its
    ``vct``; an mdoc (``format`` ``mso_mdoc``) its ``doctype``, its claims by name space
    and element (dates as ISO 8601 text, byte strings base64url)."""

    claims: dict[str, Any]
    vct: str | UnsetType = UNSET
    format: (
        Annotated[str, msgspec.Meta(examples=["mso_mdoc"], description="Absent: dc+sd-jwt.")]
        | UnsetType
    ) = UNSET
    doctype: Annotated[str, msgspec.Meta(examples=["org.iso.18013.5.1.mDL"])] | UnsetType = UNSET
    iss: str | UnsetType = UNSET
    issuer_name: str | UnsetType = UNSET
    claim_labels: list[LabelledClaim] | UnsetType = UNSET


class VerificationResult(Message):
    """Every check made; the proven credentials by Credential Query id when all passed,
    the error otherwise (with the wallet's own error code when the wallet declined)."""

    checks: list[CheckOutcome]
    credentials: dict[str, list[ProvedCredential]] | UnsetType = UNSET
    error: str | UnsetType = UNSET
    wallet_error: str | UnsetType = UNSET
    wallet_error_description: str | UnsetType = UNSET


class PresentationStatus(Message):
    """Where a presentation request stands, and once verified its result: the proven
    claims with their labels, the issuer, and every check made."""

    transaction_id: str
    verifier_id: str
    status: TransactionState
    purpose: str | None
    response_mode: str
    same_device: bool
    created_at: Annotated[str | None, msgspec.Meta(description="RFC 3339, UTC.")]
    expires_at: str | None
    request_fetched_at: str | None
    completed_at: str | None
    dcql_query: dict[str, Any]
    result: VerificationResult | UnsetType = UNSET


class CounterCheck(Message):
    template: Annotated[str, msgspec.Meta(examples=["age_over_18"])]
    description: list[LocalizedText]


class CounterChecks(Message):
    """The checks this counter is registered for, with the purpose a citizen is shown."""

    verifier_id: str
    organization: str
    display: list[LocalizedName]
    checks: list[CounterCheck]
    result_retention_seconds: int
