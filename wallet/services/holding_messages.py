"""What the phone is shown of the citizen's credentials, devices and activity (the
citizen mobile API). Display objects are the issuer's own (OpenID4VCI 1.0 §12.2.4
``display``, in the language the phone asked for) and are passed on as given."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from core.messages import Message

CredentialStatus = Literal["valid", "revoked", "suspended", "expired", "unknown", "invalid"]
Timestamp = Annotated[int, msgspec.Meta(description="Seconds since the epoch.")]


class CredentialIssuer(Message):
    credential_issuer: str
    name: str
    display: dict[str, Any]


class CredentialSummary(Message):
    credential_id: str
    name: Annotated[str, msgspec.Meta(examples=["National ID"])]
    display: dict[str, Any]
    issuer: CredentialIssuer
    format: Annotated[str, msgspec.Meta(examples=["dc+sd-jwt"])]
    vct: str | None
    status: Annotated[
        CredentialStatus,
        msgspec.Meta(description="Live, from the issuer's status list; unknown if unreachable."),
    ]
    instances: Annotated[
        int, msgspec.Meta(description="Copies kept, each bound to its own key and used once.")
    ]
    received_at: Timestamp
    expires_at: Timestamp | None


class CredentialList(Message):
    credentials: list[CredentialSummary]


class ClaimRow(Message):
    path: list[str | int | None]
    label: Annotated[str, msgspec.Meta(examples=["Date of birth"])]
    value: Any


class CredentialDetails(CredentialSummary):
    claims: dict[str, Any]
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


class ActivityLog(Message):
    activity: Annotated[
        list[dict[str, Any]],
        msgspec.Meta(
            description=(
                "Newest first. Each entry: entry_id, at (seconds since the epoch), kind (one "
                "of credential_received, credential_deleted, presentation_sent, "
                "presentation_declined, device_registered, device_revoked) and what was "
                "received, shown or refused, and to whom."
            )
        ),
    ]


class ActivityExport(ActivityLog):
    account_id: str
