"""What the wallet keeps for a citizen, and the states of its two interactions.

Receiving (OpenID4VCI 1.0): ``offered`` → ``proofs_needed`` (device-bound keys sign) →
``received``; in the authorization code flow ``authorization_required`` comes first
(the citizen is at the issuer's authorization page, the wallet waits for the redirect);
a credential the issuer defers leaves the flow ``pending`` until it arrives.
Presenting (OpenID4VP 1.0): ``consent_needed`` → ``signatures_needed`` (device-bound
keys sign) → ``submitted`` | ``declined``. A step that moves a flow from one
state to the next claims it first (``busy``), so two taps on "approve" post one
presentation; the claim ends in the next state, in ``failed``, or back where it started
when the step was refused and may be tried again. ``OFFER_MOVES`` and
``PRESENTATION_MOVES`` list every move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgspec

from core.errors import ProtocolError
from core.flow_states import Moves


class Custody(StrEnum):
    """Who holds a credential's holder private key."""

    DEVICE = "device"  # the phone: the API prepares what to sign, the phone signs
    SERVER = "server"  # this backend's key provider, sealed under the account's data key


class KeyMaterial(StrEnum):
    """How the private part of a server-held key is kept (sealed under the account's data
    key either way; the first byte of what is sealed says which)."""

    SOFTWARE = "software"  # the key itself (PKCS#8), used in this process
    HSM = "hsm"  # wrapped by the deployment's hardware security module, usable only inside it


class FlowKind(StrEnum):
    OFFER = "offer"
    PRESENTATION = "presentation"


class FlowState(StrEnum):
    OFFERED = "offered"
    AUTHORIZATION_REQUIRED = "authorization_required"
    PENDING = "pending"  # the issuer defers a credential; the wallet asks again later
    PROOFS_NEEDED = "proofs_needed"
    RECEIVED = "received"
    CONSENT_NEEDED = "consent_needed"
    SIGNATURES_NEEDED = "signatures_needed"
    SUBMITTED = "submitted"
    DECLINED = "declined"
    FAILED = "failed"
    BUSY = "busy"  # a worker is between claiming the flow and recording the outcome


OFFER_MOVES = Moves.of(
    "credential offer",
    {
        FlowState.OFFERED: {FlowState.BUSY},
        FlowState.AUTHORIZATION_REQUIRED: {FlowState.BUSY},
        FlowState.PROOFS_NEEDED: {FlowState.BUSY},
        FlowState.PENDING: {FlowState.BUSY},
        FlowState.BUSY: {
            FlowState.OFFERED,
            FlowState.AUTHORIZATION_REQUIRED,
            FlowState.PENDING,
            FlowState.PROOFS_NEEDED,
            FlowState.RECEIVED,
            FlowState.FAILED,
        },
    },
)

PRESENTATION_MOVES = Moves.of(
    "presentation request",
    {
        FlowState.CONSENT_NEEDED: {FlowState.BUSY},
        FlowState.SIGNATURES_NEEDED: {FlowState.BUSY},
        FlowState.BUSY: {
            FlowState.CONSENT_NEEDED,
            FlowState.SIGNATURES_NEEDED,
            FlowState.SUBMITTED,
            FlowState.DECLINED,
            FlowState.FAILED,
        },
    },
)

#: The moves of each kind of flow.
FLOW_MOVES = {FlowKind.OFFER: OFFER_MOVES, FlowKind.PRESENTATION: PRESENTATION_MOVES}


class ActivityKind(StrEnum):
    CREDENTIAL_RECEIVED = "credential_received"
    CREDENTIAL_DELETED = "credential_deleted"
    ISSUANCE_REFUSED = "issuance_refused"
    PRESENTATION_SENT = "presentation_sent"
    PRESENTATION_DECLINED = "presentation_declined"
    DEVICE_REGISTERED = "device_registered"
    DEVICE_REVOKED = "device_revoked"
    REGISTER_READ = "register_read"
    # what the status-list watching and the expiry notices found (``watch_statuses``)
    CREDENTIAL_REVOKED = "credential_revoked"
    CREDENTIAL_SUSPENDED = "credential_suspended"
    CREDENTIAL_REINSTATED = "credential_reinstated"
    CREDENTIAL_EXPIRING_SOON = "credential_expiring_soon"
    CREDENTIAL_EXPIRED = "credential_expired"
    MEDIATION_STARTED = "mediation_started"
    MEDIATION_ENDED = "mediation_ended"
    MEDIATOR_ACTED = "mediator_acted"


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    wrapped_data_key: bytes
    created_at: float


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    account_id: str
    thumbprint: str
    public_jwk: dict[str, str]
    sealed_name: bytes
    created_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class SpentChallenge:
    """A sign-in challenge being used: remembered as spent (by its hash) until it expires,
    so that it signs in once; ``now`` decides whether a remembered one has expired."""

    challenge_hash: str
    expires_at: float
    now: float


@dataclass(frozen=True, slots=True)
class HolderKey:
    holder_key_id: str
    account_id: str
    custody: Custody
    public_jwk: dict[str, str]
    sealed_private_key: bytes | None
    created_at: float


@dataclass(frozen=True, slots=True)
class StoredCredential:
    """A credential as stored: the sealed record (the SD-JWT instances of a batch, their
    holder keys, display metadata) and how often it was presented (to rotate instances)."""

    credential_id: str
    account_id: str
    sealed: bytes
    presentations: int
    created_at: float
    #: A one-time credential: the presentation count from which it needs a fresh batch.
    renew_from: int | None = None
    #: The sealed ``CredentialListing``; None for records stored before listings were
    #: sealed beside them (the first listing then derives and keeps it).
    sealed_listing: bytes | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    flow_id: str
    account_id: str
    kind: FlowKind
    state: FlowState
    sealed: bytes
    expires_at: float
    #: ``pending``: when the wallet next asks the issuer for the deferred credentials.
    due_at: float | None = None


@dataclass(frozen=True, slots=True)
class ActivityEntry:
    entry_id: str
    account_id: str
    at: float
    kind: ActivityKind
    sealed: bytes


class NotificationKind(StrEnum):
    """What the citizen is told of (``GET /wallet/notifications``, live and by Web Push)."""

    REVOKED = "revoked"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    EXPIRING_SOON = "expiring_soon"
    EXPIRED = "expired"
    DEFERRED_READY = "deferred_ready"
    DEVICE_ADDED = "device_added"


@dataclass(frozen=True, slots=True)
class StoredNotification:
    """A notification as stored: only the kind, the time and whether it was read in the
    clear; what it is about sealed under the account's data key."""

    notification_id: str
    account_id: str
    at: float
    kind: NotificationKind
    read_at: float | None
    sealed: bytes


@dataclass(frozen=True, slots=True)
class StoredPushSubscription:
    """A browser's Web Push subscription (its endpoint and keys sealed)."""

    subscription_id: str
    account_id: str
    endpoint_key: str
    sealed: bytes
    created_at: float
    #: The device whose session subscribed (revoking it ends the subscription).
    device_id: str | None = None


@dataclass(frozen=True, slots=True)
class WatchedList:
    """A status list some held credential references, as the watching last saw it."""

    list_key: str
    uri: str
    issuer: str
    next_fetch_at: float
    needed_until: float
    last_list: str | None
    last_digest: str | None
    fetches: int
    failures: int


@dataclass(frozen=True, slots=True)
class ExpiryDue:
    """A held credential whose next expiry notice is due."""

    credential_id: str
    account_id: str
    expires_at: float
    stage: int


@dataclass(frozen=True, slots=True)
class PendingWatch:
    """A watched credential to look at again: a list it references has a new version, or
    it was indexed (again). ``told``: the status last told (keyed hash, None: valid);
    ``pending``: the counter seen, for the compare-and-set that settles it."""

    credential_id: str
    account_id: str
    told: str | None
    pending: int


@dataclass(frozen=True, slots=True)
class Notice:
    """What one telling writes, in one transaction with what decides it is told: the
    notification and, for status changes and expiry, its activity entry."""

    notification: StoredNotification
    activity: ActivityEntry | None


#: The credential formats the wallet holds (OpenID4VCI 1.0 Appendix A.3 and A.2).
SD_JWT_VC = "dc+sd-jwt"
MSO_MDOC = "mso_mdoc"


@dataclass(frozen=True, slots=True)
class CredentialInstance:
    """One credential of a batch and the holder key it is bound to: an SD-JWT (its
    ``cnf``), or for ``mso_mdoc`` the base64url ``IssuerSigned`` as the issuer sent it
    (its MSO's ``deviceKeyInfo``)."""

    credential: str
    holder_key_id: str
    status: dict[str, Any] | None = None  # the Token Status List reference of this instance
    #: The public JWK of a holder key the phone keeps (custody ``device``): what the phone
    #: is asked to sign with, known without reading the key. None for a key the service
    #: holds, whose private part is read to sign, and in records sealed before.
    device_key: dict[str, str] | None = None


@dataclass(slots=True)
class CredentialRecord:
    """The sealed content of a stored credential. ``claims`` are the SD-JWT's claims, or
    for ``mso_mdoc`` name space → element identifier → value as JSON
    (``core.mdoc.elements.element_value_to_json``); an mdoc has a ``doctype`` and no
    ``vct`` (empty)."""

    format: str
    vct: str
    issuer: str
    configuration_id: str
    instances: list[CredentialInstance]
    claims: dict[str, Any] = field(default_factory=dict)
    expires_at: int | None = None
    issuer_display: list[dict[str, Any]] = field(default_factory=list)
    credential_display: list[dict[str, Any]] = field(default_factory=list)
    claim_display: list[dict[str, Any]] = field(default_factory=list)
    notification: dict[str, str] | None = None  # endpoint, id, access token (for deletion)
    received_at: float = 0.0
    #: ``one_time``: each instance is shown once, fresh batches come with ``renewal``;
    #: ``rotating``: the instances are shown in turn (an issuer that offers no renewal).
    use_policy: str = "rotating"
    #: What asking the issuer for a fresh batch takes (the issuance's sealed flow: its
    #: endpoints, refresh token and instance keys); None where the issuer gives none.
    renewal: dict[str, Any] | None = None
    #: Presentations of this credential counted before its current instances.
    shown_before: int = 0
    #: ``mso_mdoc``: the ISO/IEC 18013-5 ``docType``.
    doctype: str | None = None

    def fresh_instances(self, presentations: int) -> int:
        """Instances not shown yet (one-time credentials)."""
        return _unshown(len(self.instances), self.shown_before, presentations)

    def renewal_due_from(self, renew_below: int) -> int:
        """The presentation count from which a one-time credential needs a fresh batch:
        when fewer than ``renew_below`` instances are still unshown."""
        return _renewal_due_from(len(self.instances), self.shown_before, renew_below)

    def listing(self) -> CredentialListing:
        """What a listing shows of this credential (sealed beside the record)."""
        return CredentialListing(
            format=self.format,
            vct=self.vct,
            issuer=self.issuer,
            configuration_id=self.configuration_id,
            instances=len(self.instances),
            statuses=[i.status for i in self.instances if i.status is not None],
            expires_at=self.expires_at,
            issuer_display=self.issuer_display,
            credential_display=self.credential_display,
            received_at=self.received_at,
            use_policy=self.use_policy,
            renewed_by_phone=self.renewed_by_phone,
            renewal_instances=None
            if self.renewal is None
            else int(self.renewal.get("instances", 1)),
            shown_before=self.shown_before,
            doctype=self.doctype,
        )

    @property
    def renewed_by_phone(self) -> bool:
        """Whether the holder keys of the fresh batches are the phone's (so the phone asks
        for them, not the housekeeping)."""
        plan = (self.renewal or {}).get("authorization") or {}
        return bool(plan.get("custody") == "device")

    def instance_to_show(self, presentations: int) -> tuple[int, bool]:
        """Which instance the next presentation shows, and whether it was shown before
        (so verifiers could link the two presentations). One-time: the first unshown one,
        or the last one again when none is left; rotating: each in turn."""
        count = len(self.instances)
        if self.use_policy == "one_time":
            shown = presentations - self.shown_before
            return (shown, False) if shown < count else (count - 1, True)
        return presentations % count, presentations >= count

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "vct": self.vct,
            "issuer": self.issuer,
            "configuration_id": self.configuration_id,
            "instances": [
                {
                    "credential": i.credential,
                    "holder_key_id": i.holder_key_id,
                    "status": i.status,
                    **({} if i.device_key is None else {"device_key": i.device_key}),
                }
                for i in self.instances
            ],
            "claims": self.claims,
            "expires_at": self.expires_at,
            "issuer_display": self.issuer_display,
            "credential_display": self.credential_display,
            "claim_display": self.claim_display,
            "notification": self.notification,
            "received_at": self.received_at,
            "use_policy": self.use_policy,
            "renewal": self.renewal,
            "shown_before": self.shown_before,
            "doctype": self.doctype,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> CredentialRecord:
        return cls(
            format=value["format"],
            vct=value["vct"],
            issuer=value["issuer"],
            configuration_id=value["configuration_id"],
            instances=[
                # records sealed before mdocs name the SD-JWT ``sd_jwt``
                CredentialInstance(
                    i.get("credential", i.get("sd_jwt")),
                    i["holder_key_id"],
                    i.get("status"),
                    i.get("device_key"),
                )
                for i in value["instances"]
            ],
            claims=value.get("claims", {}),
            expires_at=value.get("expires_at"),
            issuer_display=value.get("issuer_display", []),
            credential_display=value.get("credential_display", []),
            claim_display=value.get("claim_display", []),
            notification=value.get("notification"),
            received_at=value.get("received_at", 0.0),
            use_policy=value.get("use_policy", "rotating"),
            renewal=value.get("renewal"),
            shown_before=value.get("shown_before", 0),
            doctype=value.get("doctype"),
        )


def _unshown(instances: int, shown_before: int, presentations: int) -> int:
    return max(0, instances - (presentations - shown_before))


def _renewal_due_from(instances: int, shown_before: int, renew_below: int) -> int:
    return shown_before + max(0, instances - renew_below)


class CredentialListing(msgspec.Struct, frozen=True, omit_defaults=True):
    """What the citizen's list of credentials shows of one credential, sealed beside its
    record (a small fraction of its size: no credentials, claims or renewal state), so a
    listing opens these and never the records. Written whenever the record is."""

    format: str
    vct: str
    issuer: str
    configuration_id: str
    #: How many credentials the batch holds.
    instances: int
    #: The Token Status List references of the batch's credentials that have one.
    statuses: list[dict[str, Any]] = []
    expires_at: int | None = None
    issuer_display: list[dict[str, Any]] = []
    credential_display: list[dict[str, Any]] = []
    received_at: float = 0.0
    use_policy: str = "rotating"
    renewed_by_phone: bool = False
    #: The batch size a renewal asks for; None where the issuer gives no renewal.
    renewal_instances: int | None = None
    shown_before: int = 0
    doctype: str | None = None

    def fresh_instances(self, presentations: int) -> int:
        """Credentials of the batch not shown yet (one-time credentials)."""
        return _unshown(self.instances, self.shown_before, presentations)

    def renewal_due_from(self, renew_below: int) -> int:
        """As ``CredentialRecord.renewal_due_from``."""
        return _renewal_due_from(self.instances, self.shown_before, renew_below)


class NotFound(ProtocolError):
    """Unknown, expired, or another citizen's: all look the same from outside."""

    error = "not_found"
    status_code = 404


class Refused(ProtocolError):
    """The wallet refuses what a counterparty (issuer, verifier) sent; ``error`` is the
    spec's code for the fault. Nothing is stored and nothing is sent on."""

    error = "invalid_request"
    status_code = 422


class RefusedRequestObject(Refused):
    error = "invalid_request_object"


class RefusedRequestUriMethod(Refused):
    """OpenID4VP 1.0 §8.5: ``request_uri_method`` is neither ``get`` nor ``post``."""

    error = "invalid_request_uri_method"


class RefusedClient(Refused):
    error = "invalid_client"


class RefusedCredential(Refused):
    error = "invalid_credential"


class TooManyUnfinished(ProtocolError):
    """The citizen has as many unfinished offers and presentations as the wallet keeps."""

    error = "invalid_request"
    status_code = 409


class OfferUnavailable(ProtocolError):
    """The issuer no longer has the offer: it was used already (by this wallet or another)
    or it expired. The agency can make a new one."""

    error = "offer_unavailable"
    status_code = 410


class RequestUnavailable(ProtocolError):
    """The verifier no longer serves the presentation request: it was answered already,
    or it expired or never existed. The counter can show a new one."""

    error = "request_unavailable"
    status_code = 410


class CounterpartyFailed(ProtocolError):
    """The issuer or verifier could not be reached or gave no usable answer."""

    error = "temporarily_unavailable"
    status_code = 502


class CounterpartyError(ProtocolError):
    """The issuer or verifier answered with an OAuth error (a wrong ``tx_code`` is
    ``invalid_grant``); its code is passed on so the phone can say what went wrong."""

    status_code = 400

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        safe = len(error) <= 64 and error.replace("_", "").isalpha() and error.isascii()
        self.remote_error = error if safe else "invalid_request"

    def to_body(self) -> dict[str, str]:
        body = super().to_body()
        body["error"] = self.remote_error
        return body


class DpopNonceRequired(CounterpartyError):
    """The server wants DPoP proofs with its nonce (RFC 9449 §8, §9): ``nonce`` is the one
    it handed out. The request is made again once with it; asked again, the wallet gives
    up (a server that never takes its own nonce would keep it in a loop)."""

    def __init__(self, nonce: str, description: str) -> None:
        super().__init__("use_dpop_nonce", description)
        self.nonce = nonce


# Assisted access (docs/mediators.md) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediationSpace:
    """A citizen space (an Espaço Cidadão, a France Services) where mediators help."""

    space_id: str
    name: str
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Mediator:
    mediator_id: str
    name: str
    languages: tuple[str, ...]
    space: MediationSpace


@dataclass(frozen=True, slots=True)
class HelpRequest:
    """A mediator's request to help a citizen, until the citizen consents to it (once)."""

    request_id: str
    mediator: Mediator
    expires_at: float
    #: Set when a citizen consented: the mediation it started.
    mediation_id: str | None = None
    #: ``wallet`` (the code typed in the citizen's wallet) or ``national_id`` (the citizen
    #: presents their national ID to the deployment's consent counter).
    mode: str = "wallet"
    #: ``national_id``: the verifier's transaction of that presentation request.
    transaction_id: str | None = None


@dataclass(frozen=True, slots=True)
class Mediation:
    """A mediator acting for one citizen's account, for a limited time and actions."""

    mediation_id: str
    account_id: str
    mediator: Mediator
    started_at: float
    expires_at: float
    ended_at: float | None = None

    def live(self, now: float) -> bool:
        return self.ended_at is None and now < self.expires_at
