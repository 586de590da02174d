"""Everything the verifier's use cases share: the catalog, the public URL, the ports."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509

from core.audit.trail import AuditTrail
from core.clock import SYSTEM_CLOCK, Clock
from core.keys.x509 import ValidatedChains
from core.pending_cap import PendingCap
from core.sdjwt_vc.issuer_keys import IssuerKeyResolver
from verifiers.domain import RelyingParty, Template
from verifiers.ports import Registrar, StatusListSource, TransactionStore, VerifierKeys


@dataclass(frozen=True, slots=True)
class PresentationPolicy:
    """Lifetimes and windows of a presentation request."""

    request_lifetime: float = 300.0  # the QR code, its request object and the answer
    result_retention: float = 900.0  # then the result and its personal data are purged
    key_binding_max_age: float = 300.0  # a KB-JWT older than this is refused
    leeway: float = 60.0  # clock skew accepted on iat/exp/nbf


class UnknownRelyingParty(LookupError):
    """No verifier with that ``verifier_id`` (answered 404, like any unknown path)."""


@dataclass(frozen=True, slots=True)
class VerifierContext:
    parties: dict[str, RelyingParty]
    templates: dict[str, Template]
    public_base_url: str
    keys: VerifierKeys
    transactions: TransactionStore
    status_lists: StatusListSource
    issuer_keys: IssuerKeyResolver
    secret: bytes
    #: The deployment's audit trail (``core.audit``): what counters asked for and how
    #: it ended (``verifiers.services.audit_facts``).
    audit_trail: AuditTrail
    policy: PresentationPolicy = field(default_factory=PresentationPolicy)
    clock: Clock = SYSTEM_CLOCK
    #: Signs the relying parties' registrations for wallets (None: none is signed).
    registrar: Registrar | None = None
    #: Unanswered, unexpired requests of one counter at most.
    open_requests: PendingCap = field(default_factory=lambda: PendingCap(10_000))
    #: The anchors issuers' certificates chain to: an mdoc's ``x5chain`` (the same
    #: anchors as ``issuer_keys`` holds for SD-JWT VC ``x5c``).
    issuer_anchors: tuple[x509.Certificate, ...] = ()
    #: Document signer chains that validated to ``issuer_anchors``, remembered (the same
    #: agency's chain comes with every mdoc).
    issuer_chains: ValidatedChains = field(default_factory=ValidatedChains)

    def party(self, verifier_id: str) -> RelyingParty:
        party = self.parties.get(verifier_id)
        if party is None:
            raise UnknownRelyingParty(verifier_id)
        return party

    def base(self, verifier_id: str) -> str:
        return f"{self.public_base_url}/verifiers/{verifier_id}"

    def response_uri(self, verifier_id: str, request_id: str) -> str:
        """Where the wallet posts its answer (OpenID4VP 1.0 §8.2 ``response_uri``)."""
        return f"{self.base(verifier_id)}/responses/{request_id}"
