"""The issuer's domain: agencies (tenants), what they issue, how claims look, and the
life of a credential offer.

An agency is identified by its ``issuer_id``; its Credential Issuer Identifier is
``{public_base_url}/issuers/{issuer_id}`` (OpenID4VCI 1.0 §12.2.1).

An offer (OpenID4VCI 1.0 §4.1, pre-authorized code flow) is ``offered`` from the moment
the clerk makes it: the wallet may fetch it by reference (§4.1.3) as often as it likes
and sends its pre-authorized code to the token endpoint (§6), which moves it to
``redeemed``, once. An offer nobody redeemed in time is ``expired``: that state is read
from the offer's ``expires_at``, never stored (housekeeping deletes such an offer).
``OFFER_MOVES`` lists every move.

Where a credential configuration needs a clerk's approval, the credential request does not
sign: it leaves an application (OpenID4VCI 1.0 §8.3, deferred issuance), ``pending`` until a
clerk of the agency approves or refuses it, and the wallet collects the credentials at the
Deferred Credential Endpoint (§9) once approved. ``APPLICATION_MOVES`` lists every move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.claim_paths import ClaimPath
from core.flow_states import Moves
from core.oauth import PRE_AUTHORIZED_GRANT

CLAIM_TYPES = frozenset({"string", "date", "boolean", "integer", "object", "array"})
SD_JWT_VC_FORMAT = "dc+sd-jwt"
MDOC_FORMAT = "mso_mdoc"
SD_JWT_VC_FORMAT = "dc+sd-jwt"


@dataclass(frozen=True, slots=True)
class LogoImage:
    """An image file of the catalog that the agency serves itself (PNG or JPEG).

    ``name`` is its file name, which is also its URL segment; ``integrity`` its SHA-256 as
    W3C Subresource Integrity metadata (``sha256-…``; SD-JWT VC §6), also its ETag.
    """

    name: str
    media_type: str
    content: bytes = field(repr=False)
    integrity: str


@dataclass(frozen=True, slots=True)
class Logo:
    """A display logo (OpenID4VCI 1.0 §12.2.4 ``logo``): an absolute ``https`` URL hosted
    elsewhere (``uri``), or an image of the catalog (``image``); exactly one of the two."""

    uri: str | None = None
    alt_text: str | None = None
    image: LogoImage | None = None


@dataclass(frozen=True, slots=True)
class Display:
    """Display texts for one locale (issuer or credential, OpenID4VCI 1.0 §12.2.4)."""

    locale: str
    name: str
    description: str | None = None
    logo: Logo | None = None
    background_color: str | None = None
    text_color: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimLabel:
    locale: str
    name: str


@dataclass(frozen=True, slots=True)
class ClaimDefinition:
    """One claim of a credential configuration (its path per OpenID4VP 1.0 §7)."""

    path: ClaimPath
    value_type: str
    mandatory: bool
    selectively_disclosable: bool
    display: tuple[ClaimLabel, ...]
    #: An mdoc element's source: the claim of the register's record it is made from.
    source: ClaimPath | None = None
    #: An mdoc element the agency states the same for everyone (``issuing_country``).
    constant: str | int | bool | None = None
    #: An mdoc element worked out at issuance: ``issue_date`` or ``expiry_date`` (of the
    #: mdoc itself), or ``age_over`` (with ``age``, from the ``source`` birth date).
    computed: str | None = None
    age: int | None = None


@dataclass(frozen=True, slots=True)
class KeyAttestationRequirement:
    """The credential is bound only to keys a trusted wallet provider attests (OpenID4VCI
    1.0 Appendix D), of one of the listed attack potential resistance levels of each kind
    listed (Appendix D.2); with both empty, any trusted key attestation will do."""

    key_storage: tuple[str, ...] = ()
    user_authentication: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApprovalReason:
    """Why a clerk must approve a credential before it is issued, in one language: what
    the desk tells the clerk to check."""

    locale: str
    text: str


@dataclass(frozen=True, slots=True)
class CredentialConfiguration:
    id: str
    validity_days: int
    display: tuple[Display, ...]
    claims: tuple[ClaimDefinition, ...]
    #: None: the wallet's keys need no key attestation (§12.2.4 ``key_attestations_required``
    #: absent from the metadata).
    key_attestations_required: KeyAttestationRequirement | None = None
    #: Empty: issued at once. Otherwise a clerk approves each credential first (deferred
    #: issuance), and this says why, in every language of the configuration's display.
    approval_reason: tuple[ApprovalReason, ...] = ()
    #: The eID login's levels of assurance (``acr`` values) accepted for this credential;
    #: empty: whatever level the provider authenticated the citizen at.
    eid_acr_values: tuple[str, ...] = ()
    #: ``dc+sd-jwt`` (OpenID4VCI 1.0 Appendix A.3) or ``mso_mdoc`` (Appendix A.2).
    format: str = "dc+sd-jwt"
    #: ``mso_mdoc``: the ISO/IEC 18013-5 ``docType``; its claims are ``[namespace,
    #: element]`` made from the record of ``record_configuration``.
    doctype: str | None = None
    #: The configuration whose register records (and offers' claims) this credential is
    #: made from: another format of the same data, never typed in twice; None: its own.
    record_configuration: str | None = None

    @property
    def disclosable_paths(self) -> tuple[ClaimPath, ...]:
        return tuple(c.path for c in self.claims if c.selectively_disclosable)

    @property
    def approval_required(self) -> bool:
        return bool(self.approval_reason)

    @property
    def record_id(self) -> str:
        """The configuration id the claims of its offers and register records are of."""
        return self.record_configuration or self.id


@dataclass(frozen=True, slots=True)
class EidLoginPolicy:
    """An agency that authenticates citizens online at the national eID provider (OpenID
    Connect): which claim of the ID token is the subject id of its register, and where it
    differs from the deployment's, its own provider registration."""

    #: ``sub``, or a claim such as a personal number the provider releases.
    subject_claim: str = "sub"
    issuer: str | None = None
    client_id: str | None = None
    #: The environment variable holding the agency's client secret (never the catalog).
    client_secret_variable: str | None = None


@dataclass(frozen=True, slots=True)
class PresentationLoginPolicy:
    """An agency that identifies citizens by a presentation of a credential they already
    hold (presentation during issuance): the counter (a verifier tenant registered for
    exactly that purpose) whose check asks for it, and how the proven claims find the
    citizen in the register: presented claim → claim of the register's record of the
    configuration being issued, all equal, for exactly one citizen."""

    verifier_id: str
    template: str
    match: tuple[tuple[str, str], ...]


class SignInWay(StrEnum):
    """A way an agency finds out who the citizen is during online issuance, named as its
    catalog setting is (``eid_login``, ``presentation_login``)."""

    EID_LOGIN = "eid_login"  # the national eID login (OpenID Connect)
    PRESENTATION_LOGIN = "presentation_login"  # a presentation from the citizen's wallet


@dataclass(frozen=True, slots=True)
class AskedPresentation:
    """A presentation request a counter made for the agency: its transaction, the link
    the wallet opens (the QR code's text), when it ends, and for the same-device flow the
    token that releases the answer to the session that asked (OpenID4VP 1.0 §13.3)."""

    transaction_id: str
    uri: str
    expires_at: str | None
    session_token: str | None = None


@dataclass(frozen=True, slots=True)
class PresentationAnswer:
    """Where a presentation request stands at the counter (``waiting``,
    ``request_fetched``, ``verified``, ``failed``, ``expired``), and once verified the
    claims each presented credential proved; ``wallet_error`` when the wallet said no."""

    status: str
    proved: tuple[dict[str, Any], ...] = ()
    error: str | None = None
    wallet_error: str | None = None


class CounterUnavailable(Exception):
    """The counter API could not be reached, or refused what the agency asked."""


@dataclass(frozen=True, slots=True)
class DeferredIssuancePolicy:
    """How an agency runs deferred issuance (OpenID4VCI 1.0 §8.3, §9)."""

    #: Seconds a wallet waits before asking the Deferred Credential Endpoint again
    #: (§8.3 ``interval``).
    interval: int = 3600
    #: How long an application waits for a clerk's decision and then for the wallet to
    #: collect the credentials; its access token stays good at the Deferred Credential
    #: Endpoint as long.
    application_lifetime: float = 30 * 86400.0


@dataclass(frozen=True, slots=True)
class RegisterSource:
    """The register an agency reads a configuration's records from, when it is not the
    agency's own (the transport agency reading the population register for the driving
    licence): its name at the register service (``service`` of the queries, the register
    file in development) and its name for citizens, per locale."""

    register: str
    display: tuple[Display, ...] = ()


@dataclass(frozen=True, slots=True)
class Agency:
    """An issuing agency: one tenant of the issuer role."""

    issuer_id: str
    organization: str
    display: tuple[Display, ...]
    configurations: dict[str, CredentialConfiguration]
    #: The agency's register of citizens, where a deployment keeps one beside the catalog
    #: (the demo does): subject id → configuration id → the claims the agency holds.
    register: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: Whether wallets must authenticate with a wallet attestation in the authorization
    #: code flow (HAIP 1.0 §4: yes) and in the pre-authorized code flow (not by default).
    attestation_for_authorization_code: bool = True
    attestation_for_pre_authorized_code: bool = False
    #: How long the refresh tokens of an authorization (one family) live, in seconds; 0:
    #: the agency gives none, and every new batch needs the citizen's sign-in.
    refresh_token_lifetime: float = 30 * 86400.0
    #: Whether wallets must encrypt their credential requests and ask for encrypted
    #: responses (OpenID4VCI 1.0 §10, ``encryption_required`` of both in §12.2.4); either
    #: is their choice where not.
    encryption_required: bool = False
    deferred_issuance: DeferredIssuancePolicy = field(default_factory=DeferredIssuancePolicy)
    #: None: citizens are not authenticated at the national eID provider here.
    eid_login: EidLoginPolicy | None = None
    #: None: citizens are not identified by a presentation of their wallet here.
    presentation_login: PresentationLoginPolicy | None = None
    #: The name of the register the credentials' data comes from, per locale, as the
    #: authorization pages show it; empty: "the agency's register".
    register_display: tuple[Display, ...] = ()
    #: Configuration (whose records are read) → the register read for it, where it is not
    #: the agency's own (catalog ``register_reads``).
    register_sources: dict[str, RegisterSource] = field(default_factory=dict)

    def register_for(self, configuration_id: str) -> str:
        """The register read for a configuration's records: its name at the service."""
        source = self.register_sources.get(configuration_id)
        return self.issuer_id if source is None else source.register

    def register_display_for(self, configuration_id: str) -> tuple[Display, ...]:
        """The name, per locale, of the register read for a configuration's records."""
        source = self.register_sources.get(configuration_id)
        return self.register_display if source is None else source.display

    @property
    def defers_issuance(self) -> bool:
        """Whether any of its credentials waits for a clerk's approval."""
        return any(c.approval_required for c in self.configurations.values())

    def identifier(self, public_base_url: str) -> str:
        """The Credential Issuer Identifier (OpenID4VCI 1.0 §12.2.1)."""
        return f"{public_base_url}/issuers/{self.issuer_id}"

    def vct(self, public_base_url: str, configuration_id: str) -> str:
        """The ``vct`` of a configuration: a URL where its Type Metadata is served."""
        return f"{self.identifier(public_base_url)}/types/{configuration_id}"

    @property
    def key_owner(self) -> str:
        return f"issuer:{self.issuer_id}"

    @property
    def request_key_owner(self) -> str:
        """The owner of the agency's key for encrypted credential requests (its own key,
        apart from the signing key)."""
        return f"issuer:{self.issuer_id}:request-encryption"


class OfferState(StrEnum):
    """Where a credential offer is in its life; the values are what the database and the
    operator API hold."""

    OFFERED = "offered"  # the QR code is out; its pre-authorized code is live
    REDEEMED = "redeemed"  # the code was exchanged for an access token (§6), once
    EXPIRED = "expired"  # not redeemed in time; read from ``expires_at``, never stored


OFFER_MOVES = Moves.of(
    "credential offer",
    {OfferState.OFFERED: {OfferState.REDEEMED, OfferState.EXPIRED}},
)


@dataclass(frozen=True, slots=True)
class Offer:
    """A credential offer for one citizen (OpenID4VCI 1.0 §4.1), pre-authorized.

    Only hashes of the pre-authorized code and of the transaction code are kept.
    """

    offer_id: str
    issuer_id: str
    configuration_id: str
    subject_id: str
    claims: dict[str, object]
    code_hash: str
    tx_code_hash: str | None
    tx_code_attempts: int
    tx_code_max_attempts: int
    state: OfferState
    created_at: float
    expires_at: float
    redeemed_at: float | None = None
    #: When the offer's claims were read from the agency's register for it (the
    #: once-only principle; the wallet is told, ``register_reads``); None: a clerk typed
    #: them in.
    register_read_at: float | None = None
    #: Why the register was read for the offer (a ``RegisterPurpose`` value:
    #: ``issue_credential``, or ``refresh_credential`` for a wallet's fresh batch); None:
    #: ``issue_credential``, or no read.
    register_read_purpose: str | None = None
    #: When the register was asked who the citizen is (``identify_citizen``: the claims
    #: of a presentation during issuance matched against it) before the offer was made;
    #: None: the citizen was identified otherwise.
    identified_at: float | None = None
    #: The grant the offer carries: the pre-authorized code (the QR code is enough), or
    #: the authorization code with ``issuer_state`` (the citizen authenticates online).
    grant_type: str = PRE_AUTHORIZED_GRANT
    #: Configurations offered with ``configuration_id``, made from the same record (the
    #: same credential in another format: the national ID as SD-JWT VC and as mdoc).
    other_configurations: tuple[str, ...] = ()

    @property
    def configuration_ids(self) -> tuple[str, ...]:
        """Every configuration the offer's access token may be used for, once each."""
        return (self.configuration_id, *self.other_configurations)

    def effective_state(self, now: float) -> OfferState:
        """The stored state, or ``expired`` once an offer that may expire has run out."""
        if now >= self.expires_at and OFFER_MOVES.allows(self.state, OfferState.EXPIRED):
            return OfferState.EXPIRED
        return self.state


class AuthorizationState(StrEnum):
    """Where a wallet's authorization (the authorization code flow, OpenID4VCI 1.0 §5) is in
    its life; the values are what the database holds."""

    PUSHED = "pushed"  # the pushed request was accepted; its request_uri is live (RFC 9126)
    #: the citizen chooses how to prove who they are (the agency allows several ways)
    CHOOSING = "choosing"
    AUTHENTICATING = "authenticating"  # the citizen is at the authorization endpoint
    CODE_ISSUED = "code_issued"  # the code went back to the wallet (RFC 6749 §4.1.2)
    REDEEMED = "redeemed"  # the code was exchanged at the token endpoint, once
    REFUSED = "refused"  # the citizen could not be authenticated or declined
    EXPIRED = "expired"  # not carried on in time; read from ``expires_at``, never stored


AUTHORIZATION_MOVES = Moves.of(
    "authorization",
    {
        AuthorizationState.PUSHED: {
            AuthorizationState.AUTHENTICATING,
            AuthorizationState.CHOOSING,
            AuthorizationState.EXPIRED,
        },
        # the choice is made once: the move to authenticating opens exactly one way
        AuthorizationState.CHOOSING: {
            AuthorizationState.AUTHENTICATING,
            AuthorizationState.REFUSED,
            AuthorizationState.EXPIRED,
        },
        AuthorizationState.AUTHENTICATING: {
            AuthorizationState.CODE_ISSUED,
            AuthorizationState.REFUSED,
            AuthorizationState.EXPIRED,
        },
        AuthorizationState.CODE_ISSUED: {AuthorizationState.REDEEMED, AuthorizationState.EXPIRED},
    },
)


@dataclass(frozen=True, slots=True)
class Authorization:
    """One authorization of a wallet (client) to receive credentials of an agency: what it
    pushed (RFC 9126), who the citizen turned out to be, and the code it was given. Only
    hashes of the request_uri and of the code are kept."""

    authorization_id: str
    issuer_id: str
    request_uri_hash: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    configuration_ids: tuple[str, ...]
    state: AuthorizationState
    created_at: float
    expires_at: float
    #: The ``state`` the wallet sent, returned with the code (RFC 6749 §4.1.2).
    wallet_state: str | None = None
    #: The offer whose ``issuer_state`` the wallet carried (OpenID4VCI 1.0 §5.1.3).
    offer_id: str | None = None
    #: Thumbprint of the key a DPoP proof at the pushed request used (RFC 9449 §10).
    dpop_jkt: str | None = None
    #: Thumbprint of the wallet attestation's ``cnf`` key, when the client attested.
    client_key: str | None = None
    subject_id: str | None = None
    code_hash: str | None = None
    #: The counter's transaction asking the citizen's wallet for the presentation that
    #: identifies them (presentation during issuance), as the store keeps it.
    presentation: str | None = None

    def effective_state(self, now: float) -> AuthorizationState:
        """The stored state, or ``expired`` once an authorization that may expire ran out."""
        if now >= self.expires_at and AUTHORIZATION_MOVES.allows(
            self.state, AuthorizationState.EXPIRED
        ):
            return AuthorizationState.EXPIRED
        return self.state


class RefreshState(StrEnum):
    """Where a refresh token is in its life; the values are what the database holds."""

    ACTIVE = "active"  # may be exchanged, once, for an access token and its successor
    ROTATED = "rotated"  # exchanged: presenting it again is a reuse (RFC 9700 §4.14.2)
    REVOKED = "revoked"  # its family ended: reuse, revocation, or the register's change


REFRESH_MOVES = Moves.of(
    "refresh token",
    {
        RefreshState.ACTIVE: {RefreshState.ROTATED, RefreshState.REVOKED},
        RefreshState.ROTATED: {RefreshState.REVOKED},
    },
)


class ApplicationState(StrEnum):
    """Where an application for a credential that a clerk approves first is in its life;
    the values are what the database and the operator API hold."""

    PENDING = "pending"  # the wallet asked (§8.3: 202 with a transaction_id); no decision yet
    APPROVED = "approved"  # a clerk approved; the wallet's next deferred request gets it
    REFUSED = "refused"  # a clerk refused; the wallet gets credential_request_denied (§9.3)
    DELIVERED = "delivered"  # signed and answered at the Deferred Credential Endpoint, once
    #: the access token that asked was revoked (a reused authorization code, RFC 6749 §4.1.2)
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"  # not decided or not collected in time; read from ``expires_at``


APPLICATION_MOVES = Moves.of(
    "application",
    {
        ApplicationState.PENDING: {
            ApplicationState.APPROVED,
            ApplicationState.REFUSED,
            ApplicationState.WITHDRAWN,
            ApplicationState.EXPIRED,
        },
        ApplicationState.APPROVED: {
            ApplicationState.DELIVERED,
            ApplicationState.WITHDRAWN,
            ApplicationState.EXPIRED,
        },
    },
)


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """One refresh token (RFC 6749 §1.5) of an authorization: the wallet comes back for a
    fresh batch of the same credential without the citizen signing in again. The tokens
    one authorization gave, each the successor of the one exchanged before, are a
    ``family``: all end together, at the family's ``expires_at`` at the latest. Bound to
    the wallet (its ``client_id``) and to its DPoP key (RFC 9449 §5); only the hash of the
    token is kept."""

    token_hash: str
    family_id: str
    issuer_id: str
    configuration_id: str
    subject_id: str
    client_id: str
    dpop_jkt: str
    state: RefreshState
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class CodeIssue:
    """An authorization's move to ``code_issued`` once its citizen is known (the caller
    checked it against ``AUTHORIZATION_MOVES``): from ``expected``, unexpired at ``now``,
    for ``subject_id``, with the code of hash ``code_hash``, live until ``expires_at``."""

    authorization_id: str
    expected: AuthorizationState
    now: float
    expires_at: float
    subject_id: str
    code_hash: str


@dataclass(frozen=True, slots=True)
class FirstRefreshToken:
    """The first refresh token of an authorization, kept as its code is redeemed: its
    hash, its family and its end; the citizen, the wallet, the credential and the key it
    is bound to are the authorization's and its access token's."""

    token_hash: str
    family_id: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class RedeemedCode:
    """An authorization code that was redeemed: its authorization as it is now
    (``redeemed``); whether its offer was redeemed too, with the access grant kept (not
    when the offer was used already or expired); whether the first refresh token was
    kept (only with the offer, and for an authorization with a citizen)."""

    authorization: Authorization
    offer_redeemed: bool
    refresh_token_kept: bool


@dataclass(frozen=True, slots=True)
class Application:
    """A wallet's credential request that waits for a clerk (deferred issuance): what it
    asked for, for whom, and the holder keys its proofs showed, so that the credentials
    can be signed once approved without asking the wallet again. Only hashes of the
    ``transaction_id`` and of the access token are kept; the claims and the holder keys
    are sealed at rest and forgotten once the application has ended."""

    application_id: str
    issuer_id: str
    offer_id: str
    configuration_id: str
    subject_id: str
    #: The claims the credentials would carry (``{}`` once the application has ended).
    claims: dict[str, Any]
    #: The public JWKs of the verified proofs, one credential each (empty once ended).
    holder_keys: tuple[dict[str, str], ...]
    transaction_hash: str
    token_hash: str
    #: The ``notification_id`` the delivered credentials carry (§8.3, §11).
    notification_id: str
    state: ApplicationState
    created_at: float
    #: The application's deadline; once delivered, the end of the window in which the same
    #: deferred request is answered again (a response lost on the way).
    expires_at: float
    #: The DPoP key the access token is bound to (RFC 9449 §6), None for a bearer token: the
    #: token is taken at the Deferred Credential Endpoint only as it is bound.
    dpop_jkt: str | None = None
    decided_at: float | None = None
    #: Why a clerk refused (sealed at rest; shown to the agency only, never to the wallet).
    refusal_reason: str | None = None
    delivered_at: float | None = None
    #: The delivered credential response, sealed under the access token, for a repeat of
    #: the deferred request that collected it (a response lost on the way).
    kept_response: bytes | None = field(default=None, repr=False)

    def effective_state(self, now: float) -> ApplicationState:
        """The stored state, or ``expired`` once an application that may expire ran out."""
        if now >= self.expires_at and APPLICATION_MOVES.allows(
            self.state, ApplicationState.EXPIRED
        ):
            return ApplicationState.EXPIRED
        return self.state


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What an access token allows: one credential request for its offer. ``dpop_jkt``:
    the thumbprint of the DPoP key the token is bound to (RFC 9449 §6), None for a bearer
    token."""

    token_hash: str
    offer_id: str
    issuer_id: str
    expires_at: float
    used: bool
    dpop_jkt: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """The ledger entry of one issued credential; its status lives here."""

    credential_id: str
    issuer_id: str
    offer_id: str
    subject_id: str
    configuration_id: str
    status_list_id: str
    status_index: int
    status: int
    issued_at: float
    expires_at: float
    notification_id: str
    #: The wallet's last notification (OpenID4VCI 1.0 §11): ``credential_accepted``,
    #: ``credential_failure`` or ``credential_deleted``; None while delivery is unconfirmed.
    notification_event: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveredResponse:
    """A credential response kept, sealed, for the wallet's retry of the same request."""

    token_hash: str
    fingerprint: str
    sealed: bytes
    expires_at: float


@dataclass(frozen=True, slots=True)
class StatusListState:
    """One status list of an agency: its size, its version (raised by every status
    change), and the last published token."""

    list_id: str
    issuer_id: str
    bits: int
    size: int
    version: int
    published_token: str | None
    published_version: int | None
    published_at: float | None


STATUS_ACTIONS = {
    # action: (statuses it applies to, resulting status); revocation is final.
    "revoke": (frozenset({0, 2}), 1),
    "suspend": (frozenset({0}), 2),
    "unsuspend": (frozenset({2}), 0),
}


@dataclass(frozen=True, slots=True)
class CredentialSelector:
    """Which credentials an operator action is about: one of the three."""

    credential_id: str | None = None
    subject_id: str | None = None
    status_list_id: str | None = None
    status_index: int | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    issuer_id: str
    at: float
    actor: str
    action: str
    object_id: str
    outcome: str
    detail: str = ""


class NonceReused(Exception):
    """A ``c_nonce`` that was already used for an earlier credential request."""


class RegisterPurpose(StrEnum):
    """Why an agency reads a citizen's record from a register: what the register checks
    against what the agency may ask it for, and what the audit trail and the citizen's
    activity log say (X-Road's ``issue`` header field: the case the query serves)."""

    ISSUE_CREDENTIAL = "issue_credential"  # an offer or an online issuance, now
    DESK_LOOKUP = "desk_lookup"  # a clerk looks the citizen up at the desk
    IDENTIFY_CITIZEN = "identify_citizen"  # who showed these identity claims
    REFRESH_CREDENTIAL = "refresh_credential"  # a wallet's fresh batch of a credential


@dataclass(frozen=True, slots=True)
class RegisterQuery:
    """One question to an agency's register: the records of one person for one credential
    configuration (``configuration_id``: the configuration whose records they are, an
    mdoc's ``record_id``), for one purpose. The person is named by their identifier in the
    register (``subject_id``), or found by ``identity`` claims of the record that must
    all be equal (exactly one person may match)."""

    issuer_id: str
    configuration_id: str
    purpose: RegisterPurpose
    subject_id: str | None = None
    identity: tuple[tuple[str, str | int], ...] = ()


@dataclass(frozen=True, slots=True)
class RegisterRecord:
    """What the register holds of one person for one configuration, checked against the
    configuration (exactly what would be signed)."""

    subject_id: str
    claims: dict[str, Any]


class RegisterUnavailable(Exception):
    """The register could not be read: ``reason`` is ``unreachable`` (no connection, or
    no answer within the outbound deadline), ``refused`` (the register would not answer
    this agency or purpose) or ``invalid_answer`` (a signature, request id, freshness or
    schema check failed). Nothing is issued on it."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class SeveralInRegister(Exception):
    """Several people of the register match the identity claims asked about."""
