"""Everything the issuer's use cases share: the catalog, the public URL, the ports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography import x509

from core.audit.trail import AuditTrail
from core.clock import SYSTEM_CLOCK, Clock
from core.faults import NO_FAULTS, FaultPoints
from core.keys.x509 import ValidatedChains
from core.oidc_login import OidcRelyingParty
from core.pending_cap import PendingCap
from core.replay import SeenOnce
from issuers.domain import (
    Agency,
    Authorization,
    CredentialConfiguration,
    RegisterQuery,
    RegisterRecord,
    RegisterUnavailable,
)
from issuers.ports import (
    ApplicationStore,
    AuditLog,
    AuthorizationStore,
    CitizenAuthenticator,
    CredentialLedger,
    GrantStore,
    IssuerKeys,
    OfferStore,
    PresentationCounter,
    RefreshTokenStore,
    RegisterConnector,
)


@dataclass(frozen=True, slots=True)
class IssuancePolicy:
    """Lifetimes and limits of the pre-authorized code flow."""

    offer_lifetime: float = 600.0  # the QR code and its pre-authorized code
    access_token_lifetime: float = 300.0
    nonce_lifetime: float = 300.0
    tx_code_max_attempts: int = 5
    tx_code_length: int = 6
    proof_max_age: float = 300.0
    proof_leeway: float = 60.0
    #: How old a key attestation (``iat``, OpenID4VCI 1.0 Appendix D.1) may be.
    key_attestation_max_age: float = 300.0
    status_list_ttl: int = 300
    #: Credentials state their issuance time only to this many seconds (1 = exactly).
    issued_at_precision: int = 86400
    #: A pushed authorization request's request_uri lives this long (RFC 9126 §2.2).
    pushed_request_lifetime: float = 60.0
    #: How long the citizen has to authenticate once at the authorization endpoint.
    authentication_lifetime: float = 600.0
    #: An authorization code lives this long (RFC 6749 §4.1.2: short, a minute here).
    authorization_code_lifetime: float = 60.0
    #: A ``DPoP-Nonce`` is accepted in proofs this long after it was handed out.
    dpop_nonce_lifetime: float = 300.0
    #: How long credentials collected at the Deferred Credential Endpoint are answered
    #: again to the same request (a response lost on the way), and their access token is
    #: good at the Notification Endpoint.
    deferred_response_lifetime: float = 300.0


class UnknownAgency(LookupError):
    """No agency with that ``issuer_id`` (answered 404, like any unknown path)."""


class UnknownConfiguration(LookupError):
    """The agency has no credential configuration of that id."""


class NoCitizenAuthentication:
    """Where no way of authenticating citizens is configured, nobody is authenticated:
    the authorization code flow answers ``access_denied``."""

    async def authenticate(self, agency: Agency, authorization: Authorization) -> str | None:
        return None


class NoRegister:
    """Where no register is connected, every read fails as a register that is down."""

    async def read(self, query: RegisterQuery) -> RegisterRecord | None:
        raise RegisterUnavailable("unreachable", "no register is connected")


@dataclass(frozen=True, slots=True)
class IssuerContext:
    agencies: dict[str, Agency]
    public_base_url: str
    keys: IssuerKeys
    offers: OfferStore
    grants: GrantStore
    ledger: CredentialLedger
    audit: AuditLog
    authorizations: AuthorizationStore
    refresh_tokens: RefreshTokenStore
    applications: ApplicationStore
    secret: bytes
    #: The deployment's audit trail (``core.audit``): what operators did and what was
    #: issued, never a citizen's or a credential's identifier.
    audit_trail: AuditTrail
    policy: IssuancePolicy = field(default_factory=IssuancePolicy)
    clock: Clock = SYSTEM_CLOCK
    faults: FaultPoints = NO_FAULTS
    #: How citizens are authenticated at the authorization endpoint.
    authenticator: CitizenAuthenticator = field(default_factory=NoCitizenAuthentication)
    #: The wallet providers' root certificates that wallet attestations (client
    #: authentication) and key attestations (OpenID4VCI 1.0 Appendix D) must chain to;
    #: none trusted by default, so every attestation is refused.
    wallet_provider_anchors: tuple[x509.Certificate, ...] = ()
    #: The wallet providers' certificate chains that validated to those anchors, kept a
    #: few minutes at most (every instance of a wallet sends the same chain each time).
    wallet_provider_chains: ValidatedChains = field(default_factory=ValidatedChains)
    #: Single-use values (attestation PoP and DPoP proof identifiers), across workers.
    seen_once: SeenOnce | None = None
    #: The national eID provider as each agency that logs citizens in there is its client
    #: (OpenID Connect), by ``issuer_id``.
    eid_parties: Mapping[str, OidcRelyingParty] = field(default_factory=dict)
    #: The agencies' counters, for the agencies that identify citizens by a presentation
    #: of a credential their wallet holds (presentation during issuance).
    presentation_counter: PresentationCounter | None = None
    #: Offers of one agency waiting to be redeemed, at most.
    pending_offers: PendingCap = field(default_factory=lambda: PendingCap(100_000))
    #: The agencies' registers (read once for each use, every read audited).
    register: RegisterConnector = field(default_factory=NoRegister)
    #: The state the agencies issue for (ISO 3166-1 alpha-2): an mdoc's ``issuing_country``.
    country: str = "DE"

    @property
    def declares_citizens(self) -> bool:
        """Whether citizens are taken to be who development and tests declare them to be
        (``IDWALLET_TEST_CITIZEN``), ahead of the agencies' own ways of finding out."""
        return not isinstance(self.authenticator, NoCitizenAuthentication)

    def agency(self, issuer_id: str) -> Agency:
        agency = self.agencies.get(issuer_id)
        if agency is None:
            raise UnknownAgency(issuer_id)
        return agency

    def configuration(self, issuer_id: str, configuration_id: str) -> CredentialConfiguration:
        config = self.agency(issuer_id).configurations.get(configuration_id)
        if config is None:
            raise UnknownConfiguration(configuration_id)
        return config
