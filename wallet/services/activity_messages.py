"""The entries of the citizen's activity log, one message per kind of event: what was
received, shown (to whom, which claims, with what outcome), refused or deleted, and which
devices came and went. ``kind`` names the message (a tagged union: a client reads
``kind`` and knows every member that follows)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from core.messages import LocalizedName, Message
from wallet.services.holding_messages import (
    EXAMPLE_ISSUER,
    EXAMPLE_NATIONAL_ID,
    Timestamp,
)

_EntryId = Annotated[str, msgspec.Meta(examples=["a-0002"])]


class AssistedBy(Message):
    """Done with the help of a mediator at a citizen space (docs/mediators.md)."""

    mediation_id: str
    mediator: Annotated[str, msgspec.Meta(examples=["Ana Sousa"])]
    space: Annotated[str, msgspec.Meta(examples=["Espaço Cidadão Lisboa"])]


class _Entry(Message, tag_field="kind", kw_only=True):
    entry_id: _EntryId
    at: Timestamp
    assisted_by: AssistedBy | UnsetType = UNSET


class CredentialReceivedEntry(_Entry, tag="credential_received", kw_only=True):
    credential_id: str
    issuer: Annotated[str, msgspec.Meta(description="The issuer's identifier (a URL).")]
    issuer_name: str
    credential: Annotated[str, msgspec.Meta(description="The credential's name.")]
    instances: Annotated[
        int, msgspec.Meta(description="Copies kept, each with its own holder key.")
    ]


class CredentialDeletedEntry(_Entry, tag="credential_deleted", kw_only=True):
    credential_id: str
    issuer: str
    credential: str
    issuer_notified: bool


class IssuanceRefusedEntry(_Entry, tag="issuance_refused", kw_only=True):
    """An issuance that ended without a credential: the issuer (or its authorization
    server) refused, or the wallet refused what it sent. Nothing was stored."""

    issuer: str
    issuer_name: str
    credentials: Annotated[list[str], msgspec.Meta(description="The credentials asked for.")]
    error: Annotated[
        str,
        msgspec.Meta(
            description="The error code: the issuer's (access_denied, invalid_grant…) or "
            "the wallet's (invalid_request, invalid_credential…)."
        ),
    ]
    refused_by: Literal["issuer", "wallet"]


class SharedCredential(Message):
    credential_id: str
    credential: str
    issuer: str
    claims: Annotated[list[str], msgspec.Meta(description="The shared claims, by their labels.")]
    instance: Annotated[
        str,
        msgspec.Meta(
            description="Which copy was shown: the same name wherever that copy went, so "
            "the citizen sees which verifiers could link what they were shown."
        ),
    ] = ""
    linkable: Annotated[
        bool, msgspec.Meta(description="The copy had been shown before (no fresh one was left).")
    ] = False


class PresentationSentEntry(_Entry, tag="presentation_sent", kw_only=True):
    verifier: Annotated[str, msgspec.Meta(description="Who asked, as the citizen was shown.")]
    client_id: str
    verifier_authenticated: bool
    shared: list[SharedCredential]
    outcome: Literal["accepted", "rejected"]
    error: (
        Annotated[str, msgspec.Meta(description="The verifier's error code, when it rejected.")]
        | UnsetType
    ) = UNSET
    redirect_refused: (
        Annotated[
            str,
            msgspec.Meta(
                description="The scheme of an address the verifier asked to send the citizen "
                "to, not followed (the address itself is not kept)."
            ),
        ]
        | UnsetType
    ) = UNSET


class RequestedClaims(Message):
    query_id: str
    claims: list[str]


class PresentationDeclinedEntry(_Entry, tag="presentation_declined", kw_only=True):
    verifier: str
    client_id: str
    verifier_authenticated: bool
    requested: list[RequestedClaims]
    verifier_told: Annotated[
        bool, msgspec.Meta(description="Whether the verifier took the refusal.")
    ]


class RegisterReadEntry(_Entry, tag="register_read", kw_only=True):
    """The issuer read the citizen's data from a register to issue a credential, as its
    credential response said (the ``register_reads`` extension): "the transport agency
    read your data from the driving licence register to issue your driving licence"."""

    credential_id: (
        Annotated[
            str,
            msgspec.Meta(description="Absent while the issuer has deferred the credential."),
        ]
        | UnsetType
    ) = UNSET
    issuer: str
    issuer_name: str
    credential: Annotated[str, msgspec.Meta(description="The credential's name.")]
    register: Annotated[
        list[LocalizedName],
        msgspec.Meta(description="The register's name per locale (empty: the issuer's own)."),
    ]
    purpose: Annotated[str, msgspec.Meta(examples=["issue_credential"])]
    read_at: Annotated[int, msgspec.Meta(description="When the issuer read it (epoch seconds).")]


class DeviceRegisteredEntry(_Entry, tag="device_registered", kw_only=True):
    device_id: str


class DeviceRevokedEntry(_Entry, tag="device_revoked", kw_only=True):
    device_id: str


class StatusEntry(_Entry, kw_only=True):
    """What the status-list watching or the expiry notices found about a held credential
    (its issuer's status list changed, or its ``exp`` comes near or passed)."""

    credential_id: str
    issuer: str
    credential: str


class CredentialRevokedEntry(StatusEntry, tag="credential_revoked", kw_only=True):
    pass


class CredentialSuspendedEntry(StatusEntry, tag="credential_suspended", kw_only=True):
    pass


class CredentialReinstatedEntry(StatusEntry, tag="credential_reinstated", kw_only=True):
    pass


class CredentialExpiringSoonEntry(StatusEntry, tag="credential_expiring_soon", kw_only=True):
    pass


class CredentialExpiredEntry(StatusEntry, tag="credential_expired", kw_only=True):
    pass


class MediationStartedEntry(_Entry, tag="mediation_started", kw_only=True):
    """The citizen let a mediator act for them (receive, present, read) until ``until``."""

    mediation_id: str
    mediator: str
    space: str
    until: Timestamp


class MediationEndedEntry(_Entry, tag="mediation_ended", kw_only=True):
    mediation_id: str
    mediator: str
    space: str
    #: ``removed``: the deployment removed the mediator (``idwallet mediator remove``).
    ended_by: Literal["citizen", "mediator", "removed"]


#: What a mediator did for the citizen that no other entry records: looked at their
#: credentials or activity log, scanned a QR code, opened an offer or a presentation
#: request (receiving and presenting record entries of their own).
MediatorSaw = Literal["credentials", "activity", "scan", "offer", "presentation_request"]


class MediatorActedEntry(_Entry, tag="mediator_acted", kw_only=True):
    """A mediator acted for the citizen (``assisted_by`` says who, where). Looking at the
    credentials or the activity log is recorded at most once per mediation and minute
    (each look would otherwise add to the log it shows)."""

    what: MediatorSaw


ActivityLogEntry = (
    CredentialReceivedEntry
    | CredentialDeletedEntry
    | IssuanceRefusedEntry
    | PresentationSentEntry
    | PresentationDeclinedEntry
    | DeviceRegisteredEntry
    | DeviceRevokedEntry
    | RegisterReadEntry
    | CredentialRevokedEntry
    | CredentialSuspendedEntry
    | CredentialReinstatedEntry
    | CredentialExpiringSoonEntry
    | CredentialExpiredEntry
    | MediationStartedEntry
    | MediationEndedEntry
    | MediatorActedEntry
)


class ActivityLog(Message):
    activity: Annotated[
        list[ActivityLogEntry],
        msgspec.Meta(description="Newest first; each entry's kind names its members."),
    ]


class ActivityExport(ActivityLog, kw_only=True):
    account_id: str


# Examples for the API documentation ------------------------------------------------------

_ACTIVITY: list[ActivityLogEntry] = [
    PresentationSentEntry(
        entry_id="a-0002",
        at=1767312000,
        verifier="Corner Bar",
        client_id="x509_san_dns:bar.example.com",
        verifier_authenticated=True,
        shared=[
            SharedCredential(
                credential_id=EXAMPLE_NATIONAL_ID.credential_id,
                credential="National identity card",
                issuer=EXAMPLE_ISSUER,
                claims=["Aged 18 or over"],
            )
        ],
        outcome="accepted",
    ),
    CredentialReceivedEntry(
        entry_id="a-0001",
        at=1767225600,
        credential_id=EXAMPLE_NATIONAL_ID.credential_id,
        issuer=EXAMPLE_ISSUER,
        issuer_name="Civil Registry",
        credential="National identity card",
        instances=3,
    ),
]
ACTIVITY_LOG_EXAMPLE = ActivityLog(activity=_ACTIVITY)
ACTIVITY_EXPORT_EXAMPLE = ActivityExport(activity=_ACTIVITY, account_id="acc-5e0d8a72")
