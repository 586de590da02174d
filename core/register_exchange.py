"""The signed exchange between an agency and a register service: one query, one answer,
each a compact JWS (RFC 7515) whose ``x5c`` certificate names who signed it.

It follows the message protocol of X-Road, the data-exchange layer governments use between
their information systems (X-Road Message Protocol v4.0, PR-MESS §2.4 "Message headers";
X-Road Message Protocol for REST, PR-REST §4): every query names the querying **client**
(our ``client``: the agency's ``issuer_id``), the **service** it calls (``service``: the
register), a unique message **id** (``id``, a fresh UUID) and the case it serves (X-Road's
``issue`` field: our ``purpose``), and carries the person's identifier in its body; the
answer repeats the ``id``, the ``client`` and the ``service``, and the hash of the request
it answers (X-Road's ``requestHash``: our ``request_hash``, SHA-256 of the query JWS). Where
X-Road's security servers sign and verify on both sides, here each end signs with its own
key certified under the deployment trust anchor, so the register can check the agency and
the agency the register without a security server in between.

Query (``typ: register-query+jwt``, signed by the agency's key with ``x5c``)::

    {"client": "transport-agency", "service": "transport-agency", "id": "<uuid>",
     "iat": 1767225600, "exp": 1767225660, "aud": "https://registers.example.gov",
     "purpose": "issue_credential", "records": "driving_licence", "person": "demo-citizen"}

or, to find the person by identity claims of the record, ``"identity": {"given_name":
"Erika", ...}`` instead of ``person``.

Answer (``typ: register-answer+jwt``, signed by the register's key with ``x5c``)::

    {"id": "<the query's id>", "client": ..., "service": ..., "request_hash": "<b64url>",
     "iat": ..., "exp": ..., "status": "found", "person": "demo-citizen",
     "claims": {...}}

``status`` is ``found`` (with ``person`` and ``claims``), ``not_found``, ``ambiguous``
(several people match the identity claims: none is named) or ``refused`` (with ``error``:
``client_not_registered``, ``purpose_not_allowed``, ``invalid_query``, and
``error_description``).

Checks on both sides: the size before parsing, strict JSON, an allow-listed ``alg``, the
explicit ``typ``, the certificate chain to the trust anchors at the time of checking, the
signature, ``iat``/``exp`` within a short window; the answer's ``id``, ``client``,
``service`` and ``request_hash`` must be those of the query it answers. The register also
checks that the query's ``aud`` is its own URL (a query captured on its way to one register
is not answered by another), that ``person`` is a non-empty identifier or ``identity``
names 1 to 10 claims (never an empty question that would match everyone), and answers a
query's ``id`` from one ``client`` once only, until the query expires
(``refused``, ``error: replayed_query``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from core.encoding import EncodingError, b64url_encode, strict_json_object
from core.jose.claims import InvalidClaims, check_time_claims
from core.jose.errors import JoseError
from core.jose.jws import decode_unverified, sign_compact, verify_compact
from core.keys.signer import Signer
from core.keys.x509 import (
    CertificateError,
    leaf_public_key,
    parse_x5c,
    san_uris,
    validate_chain,
)

QUERY_TYPE = "register-query+jwt"
ANSWER_TYPE = "register-answer+jwt"
QUERY_MEDIA_TYPE = "application/register-query+jwt"
ANSWER_MEDIA_TYPE = "application/register-answer+jwt"
ALGORITHMS = ("ES256", "ES384", "ES512", "EdDSA")
#: A query is small; an answer carries one record of one person.
MAX_QUERY_BYTES = 32 * 1024
MAX_ANSWER_BYTES = 256 * 1024
#: How long a message is good for, and the clock difference tolerated.
LIFETIME = 60
LEEWAY = 30
STATUSES = frozenset({"found", "not_found", "ambiguous", "refused"})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}")
_CLAIM = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,99}")


class ExchangeRefused(Exception):
    """A message that fails a check; ``error`` is the code a register answers with."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class RegisterQueryMessage:
    client: str
    service: str
    purpose: str
    records: str
    #: Who the query is for: the register service's URL (``aud``, RFC 7519 §4.1.3), which
    #: the register checks is its own, so that a query sent to one register is never
    #: answered by another.
    audience: str
    person: str | None = None
    identity: Mapping[str, str | int] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True, slots=True)
class RegisterAnswerMessage:
    status: str
    person: str | None = None
    claims: dict[str, Any] | None = None
    error: str | None = None
    error_description: str | None = None


@dataclass(frozen=True, slots=True)
class ReceivedQuery:
    """A verified query, the certificate that signed it, and its hash to answer with."""

    query: RegisterQueryMessage
    certificate: x509.Certificate
    request_hash: str
    #: Until when the query is good (its ``exp``): a register remembers its id until then
    #: (plus ``LEEWAY``) to refuse it if it comes again.
    expires_at: int


def request_hash(token: str) -> str:
    """X-Road's ``requestHash``: the digest of the query as sent (here SHA-256, b64url)."""
    return b64url_encode(hashlib.sha256(token.encode("ascii")).digest())


def _name(payload: Mapping[str, Any], member: str) -> str:
    value = payload.get(member)
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ExchangeRefused("invalid_query", f"{member} is missing or not a name")
    return value


def _times(payload: Mapping[str, Any], now: float) -> None:
    try:
        check_time_claims(payload, now=now, leeway=LEEWAY, required=("iat", "exp"))
    except InvalidClaims as exc:
        raise ExchangeRefused("invalid_query", str(exc)) from exc
    if (
        payload["exp"] - payload["iat"] > LIFETIME + LEEWAY
        or payload["iat"] < now - LIFETIME - LEEWAY
    ):
        raise ExchangeRefused("invalid_query", "the message is not fresh")


def _identity(value: object) -> dict[str, str | int]:
    if not isinstance(value, dict) or not 0 < len(value) <= 10:
        raise ExchangeRefused("invalid_query", "identity names 1 to 10 claims")
    identity: dict[str, str | int] = {}
    for name, claim in value.items():
        if not _CLAIM.fullmatch(name):
            raise ExchangeRefused("invalid_query", "identity has a claim that is not a name")
        if isinstance(claim, bool) or not isinstance(claim, str | int):
            raise ExchangeRefused("invalid_query", "identity values are strings or integers")
        if isinstance(claim, str) and not 0 < len(claim) <= 200:
            raise ExchangeRefused("invalid_query", "an identity value is empty or too long")
        identity[name] = claim
    return identity


class TrustedSigners:
    """Whose signatures are accepted: certificate chains under ``anchors`` (the
    deployment trust anchor), or exactly one of ``pinned`` (a certificate configured as
    it is, such as a register's own self-signed one)."""

    def __init__(
        self, anchors: Sequence[x509.Certificate], pinned: Sequence[x509.Certificate] = ()
    ) -> None:
        self._anchors = tuple(anchors)
        self._pinned = {c.public_bytes(Encoding.DER) for c in pinned}

    def leaf(self, header: Mapping[str, Any], at: float) -> x509.Certificate:
        chain = parse_x5c(header.get("x5c"))
        if chain[0].public_bytes(Encoding.DER) in self._pinned:
            now = dt.datetime.fromtimestamp(at, dt.UTC)
            if not chain[0].not_valid_before_utc <= now <= chain[0].not_valid_after_utc:
                raise CertificateError("the pinned certificate is not valid now")
            return chain[0]
        return validate_chain(chain, self._anchors, at=dt.datetime.fromtimestamp(at, dt.UTC))


def _verified(
    token: str, typ: str, trusted: TrustedSigners, *, now: float, max_bytes: int, error: str
) -> tuple[dict[str, Any], x509.Certificate]:
    certificate: list[x509.Certificate] = []

    def key(header: Mapping[str, Any]) -> Any:
        leaf = trusted.leaf(header, now)
        certificate.append(leaf)
        return leaf_public_key(leaf)

    if not isinstance(token, str) or len(token) > max_bytes:
        raise ExchangeRefused(error, f"the message is not a JWS of at most {max_bytes} bytes")
    try:
        verified = verify_compact(
            token, key, algorithms=ALGORITHMS, typ=typ, max_bytes=max_bytes, max_payload_depth=16
        )
    except (JoseError, CertificateError) as exc:
        raise ExchangeRefused(error, f"the signature does not verify: {exc}") from exc
    return verified.payload, certificate[0]


def sign_query(query: RegisterQueryMessage, signer: Signer, *, now: float) -> str:
    """The agency's signed query (``x5c``: the agency's access certificate chain)."""
    payload: dict[str, Any] = {
        "client": query.client,
        "service": query.service,
        "id": query.id,
        "iat": int(now),
        "exp": int(now) + LIFETIME,
        "aud": query.audience,
        "purpose": query.purpose,
        "records": query.records,
    }
    if query.person is not None:
        payload["person"] = query.person
    else:
        payload["identity"] = dict(query.identity)
    return sign_compact(payload, signer, typ=QUERY_TYPE, include_x5c=True)


def read_query(token: str, trusted: TrustedSigners, *, audience: str, now: float) -> ReceivedQuery:
    """The register's side: a query verified (signature under the trust anchors,
    freshness, addressed to ``audience``, members); the caller checks that the
    certificate is the client's, and that the query was not seen before."""
    payload, leaf = _verified(
        token, QUERY_TYPE, trusted, now=now, max_bytes=MAX_QUERY_BYTES, error="invalid_query"
    )
    _times(payload, now)
    if payload.get("aud") != audience:
        raise ExchangeRefused("invalid_query", "the query is not addressed to this register")
    if ("person" in payload) == ("identity" in payload):
        raise ExchangeRefused("invalid_query", "a query names exactly one of person and identity")
    person = payload.get("person")
    if "person" in payload and (not isinstance(person, str) or not 0 < len(person) <= 200):
        raise ExchangeRefused("invalid_query", "person is not an identifier")
    message_id = payload.get("id")
    if not isinstance(message_id, str) or not 8 <= len(message_id) <= 64:
        raise ExchangeRefused("invalid_query", "id is missing")
    query = RegisterQueryMessage(
        client=_name(payload, "client"),
        service=_name(payload, "service"),
        purpose=_name(payload, "purpose"),
        records=_name(payload, "records"),
        audience=audience,
        person=person,
        # 1 to 10 claims: an empty identity would match everyone
        identity={} if "identity" not in payload else _identity(payload["identity"]),
        id=message_id,
    )
    return ReceivedQuery(query, leaf, request_hash(token), int(payload["exp"]))


def client_certified_as(certificate: x509.Certificate, identifier: str) -> bool:
    """Whether the certificate names ``identifier`` (the agency's Credential Issuer
    Identifier, a SAN URI of its access certificate)."""
    return identifier in san_uris(certificate)


def unverified_echo(token: str) -> dict[str, str]:
    """What a refusal of a query that failed its checks can still repeat, so that the
    agency can tell it answers its query (X-Road answers errors with the request's id
    too): the hash of what was sent, and the ``id``, ``client`` and ``service`` it named,
    read without trusting them."""
    echo = {"request_hash": request_hash(token)} if token.isascii() else {}
    try:
        payload = decode_unverified(token, max_bytes=MAX_QUERY_BYTES).payload_bytes
        named = strict_json_object(payload, max_bytes=MAX_QUERY_BYTES, max_depth=4)
    except (JoseError, EncodingError):
        return echo
    for member in ("id", "client", "service"):
        value = named.get(member)
        if isinstance(value, str) and len(value) <= 200:
            echo[member] = value
    return echo


def sign_answer(
    received: ReceivedQuery | None,
    answer: RegisterAnswerMessage,
    signer: Signer,
    *,
    now: float,
    echo: Mapping[str, str] | None = None,
) -> str:
    """The register's signed answer to a query (``received``; None for a query that
    failed its checks, answered ``refused`` with what ``echo`` repeats of it)."""
    payload: dict[str, Any] = {
        "iat": int(now),
        "exp": int(now) + LIFETIME,
        "status": answer.status,
    }
    if received is not None:
        payload |= {
            "id": received.query.id,
            "client": received.query.client,
            "service": received.query.service,
            "request_hash": received.request_hash,
        }
    elif echo is not None:
        payload |= dict(echo)
    for member in ("person", "claims", "error", "error_description"):
        value = getattr(answer, member)
        if value is not None:
            payload[member] = value
    return sign_compact(payload, signer, typ=ANSWER_TYPE, include_x5c=True)


def read_answer(
    token: str,
    trusted: TrustedSigners,
    *,
    query: RegisterQueryMessage,
    query_token: str,
    register_uri: str | None,
    now: float,
) -> RegisterAnswerMessage:
    """The agency's side: the answer verified against the register's trust, and checked
    to answer this very query (id, client, service, request hash), fresh; with
    ``register_uri``, the signing certificate must name it (a SAN URI)."""
    payload, leaf = _verified(
        token, ANSWER_TYPE, trusted, now=now, max_bytes=MAX_ANSWER_BYTES, error="invalid_answer"
    )
    if register_uri is not None and register_uri not in san_uris(leaf):
        raise ExchangeRefused("invalid_answer", "the answer is signed by another party")
    try:
        _times(payload, now)
    except ExchangeRefused as exc:
        raise ExchangeRefused("invalid_answer", exc.description) from exc
    expected = {
        "id": query.id,
        "client": query.client,
        "service": query.service,
        "request_hash": request_hash(query_token),
    }
    for member, value in expected.items():
        if payload.get(member) != value:
            raise ExchangeRefused("invalid_answer", f"the answer's {member} is not the query's")
    status = payload.get("status")
    if status not in STATUSES:
        raise ExchangeRefused("invalid_answer", "the answer has no known status")
    if status == "found":
        person, claims = payload.get("person"), payload.get("claims")
        if not isinstance(person, str) or not 0 < len(person) <= 200:
            raise ExchangeRefused("invalid_answer", "a found record names no person")
        if query.person is not None and person != query.person:
            raise ExchangeRefused("invalid_answer", "the record is another person's")
        if not isinstance(claims, dict):
            raise ExchangeRefused("invalid_answer", "a found record has no claims object")
        return RegisterAnswerMessage("found", person=person, claims=claims)
    if status == "refused":
        error, description = payload.get("error"), payload.get("error_description")
        return RegisterAnswerMessage(
            "refused",
            error=error[:64] if isinstance(error, str) else "refused",
            error_description=description[:200] if isinstance(description, str) else None,
        )
    return RegisterAnswerMessage(str(status))
