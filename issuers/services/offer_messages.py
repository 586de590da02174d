"""What an agency's desk sends to offer a credential and what it gets back (the agency
operator API)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from core.messages import LocalizedName, LocalizedText, Message, ProblemBody
from core.oid4vci import CredentialOffer
from issuers.domain import OfferState
from issuers.services.create_offer import MAX_SUBJECT_ID


class OfferCreation(ProblemBody):
    """Offer a credential to a citizen: who (the agency's own subject id), which
    credential, the claims (left out: read from the agency's register now, the once-only
    principle), and whether the wallet must enter a transaction code (sent to the citizen
    apart from the QR code)."""

    subject_id: Annotated[
        str,
        msgspec.Meta(min_length=1, max_length=MAX_SUBJECT_ID, examples=["NL-1985-000123"]),
    ]
    credential_configuration_id: Annotated[
        str, msgspec.Meta(min_length=1, max_length=200, examples=["national_id"])
    ]
    claims: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description=(
                "The credential's claims as the clerk confirmed them; left out (or empty), "
                "the agency reads them from its register for this offer (404 when it holds "
                "none, 503 when the register cannot be read: nothing is offered), and the "
                "wallet is told its data came from the register."
            ),
            examples=[{"given_name": "Erika", "family_name": "Mustermann"}],
        ),
    ] = msgspec.field(default_factory=dict)
    tx_code: bool = False
    other_formats: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=200)]],
        msgspec.Meta(
            max_length=4,
            description=(
                "Configurations of the same credential in other formats (made from the same "
                "record, such as national_id_mdoc beside national_id), offered in the same "
                "QR code; the wallet receives each. Pre-authorized code only."
            ),
            examples=[["national_id_mdoc"]],
        ),
    ] = msgspec.field(default_factory=list)
    grant: Annotated[
        Literal["pre-authorized_code", "authorization_code"],
        msgspec.Meta(
            description=(
                "pre-authorized_code: the QR code is enough (with a transaction code when "
                "asked); authorization_code: the citizen signs in online to the agency, the "
                "offer's issuer_state ties it to this citizen and credential."
            )
        ),
    ] = "pre-authorized_code"


class OfferQr(Message):
    svg: str
    png_base64: str
    svg_url: str
    png_url: str


class OfferCreated(Message):
    offer_id: str
    offer_uri: Annotated[str, msgspec.Meta(description="What the QR code carries (by reference).")]
    offer_uri_by_value: str
    credential_offer_uri: str
    credential_offer: CredentialOffer
    tx_code: Annotated[
        str | None, msgspec.Meta(description="To hand to the citizen apart from the QR code.")
    ]
    expires_at: Annotated[str, msgspec.Meta(description="RFC 3339, UTC.")]
    qr: OfferQr


class StatusChange(ProblemBody):
    """Which credentials to revoke, suspend or unsuspend: exactly one of a credential id,
    a subject id (all of the citizen's credentials), or a place on a status list
    (``status_uri`` with ``status_idx``, as read from a credential); and why."""

    credential_id: str | None = None
    subject_id: str | None = None
    status_uri: str | None = None
    status_idx: Annotated[int, msgspec.Meta(ge=0)] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


Timestamp = Annotated[str, msgspec.Meta(description="RFC 3339, UTC.")]


class IssuedCredentialView(Message):
    credential_id: str
    credential_configuration_id: str
    subject_id: str
    status: Annotated[str, msgspec.Meta(examples=["valid", "revoked", "suspended"])]
    status_uri: str
    status_idx: int
    issued_at: Timestamp
    expires_at: Timestamp
    offer_id: str
    wallet_notification: Annotated[
        str | None,
        msgspec.Meta(
            description=(
                "What the wallet said it did with the credential (credential_accepted, "
                "credential_failure, credential_deleted); null: it never confirmed receipt, "
                "so the credential may not have reached the citizen."
            )
        ),
    ]


StatusAction = Literal["revoke", "suspend", "unsuspend"]


class StatusChanged(Message):
    action: StatusAction
    changed: list[IssuedCredentialView]
    unchanged: Annotated[int, msgspec.Meta(description="Selected, but already so.")]


class ConfigurationClaim(Message):
    path: list[str | int | None]
    type: str
    mandatory: bool
    display: list[LocalizedName]


class ConfigurationView(Message):
    credential_configuration_id: str
    display: list[LocalizedName]
    claims: Annotated[
        list[ConfigurationClaim],
        msgspec.Meta(
            description="What an offer's claims hold (for an mdoc: the record of "
            "claims_of, which its elements are made from)."
        ),
    ]
    format: Annotated[str, msgspec.Meta(examples=["dc+sd-jwt", "mso_mdoc"])] = "dc+sd-jwt"
    doctype: Annotated[
        str | None, msgspec.Meta(description="mso_mdoc: the ISO/IEC 18013-5 docType.")
    ] = None
    claims_of: Annotated[
        str | None,
        msgspec.Meta(
            description="mso_mdoc: the configuration whose records (and offers' claims) the "
            "mdoc is made from; the register holds them under that id."
        ),
    ] = None
    approval_reason: Annotated[
        list[LocalizedText] | None,
        msgspec.Meta(
            description=(
                "Present where a clerk approves each credential before it is issued: what "
                "to check, per language."
            )
        ),
    ] = None


class AgencyConfigurations(Message):
    issuer_id: str
    organization: str
    display: list[LocalizedName]
    configurations: list[ConfigurationView]


class SubjectOffer(Message):
    offer_id: str
    credential_configuration_id: str
    state: Annotated[str, msgspec.Meta(examples=[state.value for state in OfferState])]
    created_at: Timestamp
    expires_at: Timestamp
    tx_code_required: bool
    claims: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(description="What the agency entered (kept while the offer is open)."),
    ]


class SubjectRecord(Message):
    """A citizen as the desk sees them: what the agency's register holds (to offer without
    retyping), their offers, and the credentials issued to them with their status."""

    subject_id: str
    register: dict[str, Any]
    offers: list[SubjectOffer]
    credentials: list[IssuedCredentialView]
    register_unavailable: Annotated[
        str | None,
        msgspec.Meta(
            description="Why the register could not be read (its records are then missing)."
        ),
    ] = None


class AuditEvent(Message):
    at: Timestamp
    actor: str
    action: str
    object_id: str
    outcome: str
    detail: str


class AuditTrail(Message):
    events: list[AuditEvent]
