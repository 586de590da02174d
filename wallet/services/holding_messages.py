"""What the phone is shown of the citizen's credentials, devices and activity (the
citizen mobile API). Display objects are the issuer's own (OpenID4VCI 1.0 §12.2.4
``display``, in the language the phone asked for) and are passed on as given."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from core.messages import Message

CredentialStatus = Literal["valid", "revoked", "suspended", "expired", "unknown", "invalid"]
Timestamp = Annotated[int, msgspec.Meta(description="Seconds since the epoch.")]


class CredentialIssuer(Message):
    credential_issuer: str
    name: str
    display: dict[str, Any]


class CredentialSummary(Message, kw_only=True):
    credential_id: str
    name: Annotated[str, msgspec.Meta(examples=["National ID"])]
    display: dict[str, Any]
    issuer: CredentialIssuer
    format: Annotated[str, msgspec.Meta(examples=["dc+sd-jwt", "mso_mdoc"])]
    vct: Annotated[str | None, msgspec.Meta(description="dc+sd-jwt: its type; null for an mdoc.")]
    doctype: Annotated[
        str | UnsetType,
        msgspec.Meta(
            description="mso_mdoc: the ISO/IEC 18013-5 docType.",
            examples=["org.iso.18013.5.1.mDL"],
        ),
    ] = UNSET
    status: Annotated[
        CredentialStatus,
        msgspec.Meta(description="Live, from the issuer's status list; unknown if unreachable."),
    ]
    instances: Annotated[
        int, msgspec.Meta(description="Copies kept, each bound to its own key and used once.")
    ]
    received_at: Timestamp
    expires_at: Timestamp | None
    use_policy: Annotated[
        Literal["one_time", "rotating"],
        msgspec.Meta(
            description="one_time: each copy is shown once and fresh copies come from the "
            "issuer, so two verifiers cannot link presentations; rotating: the copies are "
            "shown in turn (an issuer that gives no fresh copies)."
        ),
    ]
    fresh_instances: Annotated[
        int | UnsetType,
        msgspec.Meta(
            description="one_time: copies not shown yet (0: the next presentation can be "
            "linked to an earlier one)."
        ),
    ] = UNSET
    renewed_by: Annotated[
        Literal["wallet_service", "phone"] | UnsetType,
        msgspec.Meta(
            description="one_time: who asks the issuer for fresh copies: the wallet service "
            "by itself (keys it holds), or the phone (keys on the phone: "
            "POST /wallet/credentials/{credential_id}/renew when renewal_due)."
        ),
    ] = UNSET
    holder_keys_needed: Annotated[
        int | UnsetType,
        msgspec.Meta(
            description="renewed_by phone: the fresh public keys a renewal takes, one per "
            "copy of the issuer's batch."
        ),
    ] = UNSET
    renewal_due: Annotated[
        bool | UnsetType,
        msgspec.Meta(
            description="one_time: fresh copies are due (fewer than the wallet keeps in "
            "reserve are left unshown)."
        ),
    ] = UNSET


class CredentialList(Message):
    credentials: list[CredentialSummary]


class ClaimRow(Message):
    path: Annotated[
        list[str | int | None],
        msgspec.Meta(description="For an mdoc: [name space, element identifier]."),
    ]
    label: Annotated[str, msgspec.Meta(examples=["Date of birth"])]
    value: Any


class CredentialDetails(CredentialSummary):
    claims: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="The credential's claims; for an mdoc by name space, then element "
            "identifier (full-dates as YYYY-MM-DD, byte strings base64url)."
        ),
    ]
    claim_labels: list[ClaimRow]
    presentations: Annotated[int, msgspec.Meta(description="Times the credential was shown.")]


class CredentialDeleted(Message):
    credential_id: str
    deleted: bool
    issuer_notified: bool


class DeviceView(Message):
    device_id: str
    name: str
    created_at: Timestamp
    revoked_at: Timestamp | None
    current: Annotated[bool, msgspec.Meta(description="The device this session runs on.")]


class DeviceList(Message):
    devices: list[DeviceView]


# Examples for the API documentation ------------------------------------------------------

EXAMPLE_ISSUER = "https://id.example.gov/issuers/civil-registry"
_CARD_DISPLAY: dict[str, Any] = {
    "locale": "en",
    "name": "National identity card",
    "description": "Proof of identity issued by the Civil Registry",
    "background_color": "#1f3a5f",
    "text_color": "#ffffff",
}
_CIVIL_REGISTRY = CredentialIssuer(
    credential_issuer=EXAMPLE_ISSUER,
    name="Civil Registry",
    display={"locale": "en", "name": "Civil Registry"},
)
EXAMPLE_NATIONAL_ID = CredentialSummary(
    credential_id="3f1c2b9e-8d4a-4c1e-9b7f-2a6d5e8c0f13",
    name="National identity card",
    display=_CARD_DISPLAY,
    issuer=_CIVIL_REGISTRY,
    format="dc+sd-jwt",
    vct=f"{EXAMPLE_ISSUER}/types/national_id",
    status="valid",
    instances=3,
    received_at=1767225600,
    expires_at=1893456000,
    use_policy="one_time",
    fresh_instances=1,
    renewed_by="phone",
    holder_keys_needed=3,
    renewal_due=True,
)

CREDENTIAL_LIST_EXAMPLE = CredentialList(credentials=[EXAMPLE_NATIONAL_ID])
CREDENTIAL_DETAILS_EXAMPLE = CredentialDetails(
    **{name: getattr(EXAMPLE_NATIONAL_ID, name) for name in EXAMPLE_NATIONAL_ID.__struct_fields__},
    claims={"given_name": "Anna", "family_name": "Schmidt", "birthdate": "1990-04-12"},
    claim_labels=[
        ClaimRow(path=["given_name"], label="Given name", value="Anna"),
        ClaimRow(path=["family_name"], label="Family name", value="Schmidt"),
        ClaimRow(path=["birthdate"], label="Date of birth", value="1990-04-12"),
    ],
    presentations=2,
)
CREDENTIAL_DELETED_EXAMPLE = CredentialDeleted(
    credential_id=EXAMPLE_NATIONAL_ID.credential_id, deleted=True, issuer_notified=True
)
DEVICE_LIST_EXAMPLE = DeviceList(
    devices=[
        DeviceView(
            device_id="d-7b2e41c9",
            name="Anna's phone",
            created_at=1767225000,
            revoked_at=None,
            current=True,
        ),
        DeviceView(
            device_id="d-19a0f3e5",
            name="Old tablet",
            created_at=1735689600,
            revoked_at=1764547200,
            current=False,
        ),
    ]
)


class IssuableCredential(Message):
    """A credential an issuer describes that this wallet can hold (``dc+sd-jwt`` or
    ``mso_mdoc``)."""

    credential_configuration_id: Annotated[str, msgspec.Meta(examples=["driving_licence"])]
    name: Annotated[str, msgspec.Meta(examples=["Driving licence"])]
    display: dict[str, Any]
    holder_keys_needed: Annotated[
        int, msgspec.Meta(description="Public keys the phone sends when it keeps the keys.")
    ]
    format: Annotated[str, msgspec.Meta(examples=["dc+sd-jwt", "mso_mdoc"])] = "dc+sd-jwt"


class KnownIssuer(Message):
    """An issuer the deployment knows: its own agencies and those it is configured with
    (``IDWALLET_WALLET_ISSUERS``). ``available`` is false while its metadata cannot be
    read; the citizen can try again later."""

    credential_issuer: str
    name: str
    display: dict[str, Any]
    available: bool
    credentials: list[IssuableCredential]


class IssuerList(Message):
    issuers: list[KnownIssuer]


ISSUER_LIST_EXAMPLE = IssuerList(
    issuers=[
        KnownIssuer(
            credential_issuer="https://id.example.gov/issuers/transport-agency",
            name="Transport Agency",
            display={"name": "Transport Agency", "locale": "en"},
            available=True,
            credentials=[
                IssuableCredential(
                    credential_configuration_id="driving_licence",
                    name="Driving licence",
                    display={"name": "Driving licence", "locale": "en"},
                    holder_keys_needed=3,
                )
            ],
        )
    ]
)
