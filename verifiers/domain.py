"""The verifier's domain: relying parties (tenants), what they may ask for, and the life
of one presentation request.

A transaction moves through a closed set of states: ``waiting`` (the QR code is shown) →
``request_fetched`` (the wallet read the signed request object at the Request URI,
OpenID4VP 1.0 §5.10; a wallet that reads it again leaves it there) → ``verified`` |
``failed`` (the wallet's answer at the Response URI, §8.2, or its error response, §8.5);
``expired`` when nobody answered in time, a state read from ``expires_at`` and never
stored. ``TRANSACTION_MOVES`` lists every move; ``FINAL_STATES``, the states nothing moves
out of, and ``SERVED_STATES`` are read from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.claim_paths import ClaimPath
from core.flow_states import Moves

SD_JWT_VC_FORMAT = "dc+sd-jwt"
MDOC_FORMAT = "mso_mdoc"
CREDENTIAL_FORMATS = frozenset({SD_JWT_VC_FORMAT, MDOC_FORMAT})
CLIENT_ID_PREFIXES = frozenset({"x509_hash", "x509_san_dns"})
RESPONSE_MODES = frozenset({"direct_post", "direct_post.jwt"})


class TransactionState(StrEnum):
    """Where a presentation request is in its life; the values are what the database and
    the counter API hold."""

    WAITING = "waiting"  # created, the QR code shown; no wallet has read the request yet
    REQUEST_FETCHED = "request_fetched"  # a wallet read the request object (§5.10)
    VERIFIED = "verified"  # the presentation passed every check
    FAILED = "failed"  # it failed a check, or the wallet answered with an error (§8.5)
    EXPIRED = "expired"  # not answered in time; read from ``expires_at``, never stored


TRANSACTION_MOVES = Moves.of(
    "presentation request",
    {
        TransactionState.WAITING: {TransactionState.REQUEST_FETCHED, TransactionState.EXPIRED},
        TransactionState.REQUEST_FETCHED: {
            TransactionState.REQUEST_FETCHED,  # the request object read again
            TransactionState.VERIFIED,
            TransactionState.FAILED,
            TransactionState.EXPIRED,
        },
    },
)

#: The states nothing moves out of: the counter's screen stops following there.
FINAL_STATES = frozenset(s for s in TransactionState if TRANSACTION_MOVES.is_final(s))

#: The states the request object is served in, each moving to ``request_fetched``.
SERVED_STATES = frozenset(
    s for s in TransactionState if TRANSACTION_MOVES.allows(s, TransactionState.REQUEST_FETCHED)
)


@dataclass(frozen=True, slots=True)
class LocalizedText:
    locale: str
    text: str


@dataclass(frozen=True, slots=True)
class TemplateCredential:
    """One credential a template asks for: its format, the accepted types (SD-JWT VC
    ``vct_values``, or an mdoc's ``doctype_value``, OpenID4VP 1.0 B.2.2) and the claims
    wanted (an mdoc's as ``[namespace, element]``, B.2.4), and for an mdoc the elements
    the counter keeps (``intent_to_retain``, B.2.3)."""

    id: str
    vct_values: tuple[str, ...]
    claims: tuple[ClaimPath, ...]
    format: str = SD_JWT_VC_FORMAT
    doctype_value: str | None = None
    intent_to_retain: frozenset[ClaimPath] = frozenset()

    @property
    def types(self) -> tuple[str, ...]:
        """The credential types it accepts: its ``vct`` values, or its ``docType``."""
        if self.format == MDOC_FORMAT and self.doctype_value is not None:
            return (self.doctype_value,)
        return self.vct_values

    def meta(self) -> dict[str, Any]:
        """The DCQL ``meta`` of its Credential Query (§6.1, B.2.2, B.3.5)."""
        if self.format == MDOC_FORMAT:
            return {"doctype_value": self.doctype_value}
        return {"vct_values": list(self.vct_values)}


@dataclass(frozen=True, slots=True)
class Template:
    """A named check a counter can pick (``age_over_18``, ``identity``…): the credentials
    it asks for and, when it accepts alternatives (the PID as SD-JWT VC or as mdoc), the
    DCQL ``credential_sets`` options (§6.2; empty: every credential is required)."""

    name: str
    display: tuple[LocalizedText, ...]
    credentials: tuple[TemplateCredential, ...]
    credential_sets: tuple[tuple[tuple[str, ...], ...], ...] = ()


@dataclass(frozen=True, slots=True)
class IssuanceService:
    """A purpose that serves an issuer's issuance: the registered statement that the
    counter asks on behalf of ``credential_issuer`` (an agency id of this deployment, or
    the full ``https`` issuer identifier of another) before it issues these credential
    configurations."""

    credential_issuer: str
    credential_configuration_ids: tuple[str, ...]

    def issuer_identifier(self, public_base_url: str) -> str:
        """The full credential issuer identifier: an agency id is one of this deployment's
        issuers (``{public_base_url}/issuers/{agency_id}``)."""
        if "://" in self.credential_issuer:
            return self.credential_issuer
        return f"{public_base_url}/issuers/{self.credential_issuer}"


@dataclass(frozen=True, slots=True)
class Purpose:
    """A purpose a relying party is registered for: a template, perhaps with more claims
    (by the template's credential id), perhaps serving an issuer's issuance."""

    template: str
    description: tuple[LocalizedText, ...]
    additional_claims: dict[str, tuple[ClaimPath, ...]] = field(default_factory=dict)
    issuance: IssuanceService | None = None

    def claims_for(self, credential: TemplateCredential) -> tuple[ClaimPath, ...]:
        """What this purpose asks of one of its template's credentials."""
        extra = self.additional_claims.get(credential.id, ())
        return tuple(dict.fromkeys([*credential.claims, *extra]))


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """A service counter's organisation: one tenant of the verifier role."""

    verifier_id: str
    organization: str
    display: tuple[LocalizedText, ...]
    purposes: dict[str, Purpose]
    client_id_prefix: str = "x509_hash"

    @property
    def key_owner(self) -> str:
        return f"verifier:{self.verifier_id}"


@dataclass(frozen=True, slots=True)
class Check:
    """One named validation step and its outcome, as the counter sees it."""

    name: str
    passed: bool
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"check": self.name, "passed": self.passed}
        if self.detail:
            body["detail"] = self.detail
        return body


@dataclass(frozen=True, slots=True)
class Transaction:
    """One presentation request. Secrets are kept only as hashes where the verifier never
    needs them back (``response_code``); the ``nonce`` and ``state`` are needed to check
    the answer and are single-use."""

    transaction_id: str
    verifier_id: str
    request_id: str
    purpose: str | None
    dcql_query: dict[str, Any]
    nonce: str
    state: str
    response_mode: str
    same_device: bool
    client_id: str
    status: TransactionState
    created_at: float
    expires_at: float
    request_fetched_at: float | None = None
    completed_at: float | None = None
    #: {"claims": ..., "checks": [...], "error": ...} once the wallet answered.
    result: dict[str, Any] | None = None
    response_code_hash: str | None = None
    wallet_nonce: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def effective_status(self, now: float) -> TransactionState:
        """The stored state, or ``expired`` once a request that may expire has run out."""
        if now >= self.expires_at and TRANSACTION_MOVES.allows(
            self.status, TransactionState.EXPIRED
        ):
            return TransactionState.EXPIRED
        return self.status
