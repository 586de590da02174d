"""Wallet attestations as client authentication: OAuth 2.0 Attestation-Based Client
Authentication, draft -07 (the version OpenID4VCI 1.0 §14.7 pins, Appendix E "Wallet
Attestations in JWT format") and draft -10 (the newest), as the HAIP 1.0 "Wallet
Attestation" rules profile it.

A wallet instance presents two JWTs at the PAR and token endpoints:

- the **Client Attestation** (``OAuth-Client-Attestation``, -07 §5.1, -10 §4): signed by
  its wallet provider, whose certificate chain is in ``x5c`` (HAIP: without the trust
  anchor) and validates to one of the configured wallet-provider anchors; ``sub`` is the
  ``client_id`` (HAIP, OpenID4VCI §15.4.4: shared by every instance of the wallet type,
  never an instance identifier), ``cnf.jwk`` the wallet instance's key;
- the **Client Attestation PoP** (``OAuth-Client-Attestation-PoP``, -07 §5.2, -10 §5.1):
  signed by that ``cnf`` key for this server (``aud`` its issuer identifier), fresh
  (``iat``), single-use (``jti``, remembered through ``core.replay.SeenOnce`` until the end
  of the freshness window; ``check`` hands it back unused, for a caller that uses it up in
  the statement that stores what the authentication allows) and, where this server hands
  out challenges, carrying one.

What the two drafts differ in, and how both are accepted here:

- ``iss``: REQUIRED in both JWTs in -07, removed in -08. It is optional here; when the
  PoP carries one it must be the ``client_id`` (-07 §5.2 rule 4).
- ``nbf``: defined in -07, no longer in -10; when present it must have passed.
- The header names and their ``token68`` values are the same in both. -07 §7 also defines
  a concatenated serialization (``<attestation>~<PoP>``, for uses outside HTTP headers,
  removed in -08): :func:`read_concatenated_client_attestation`.
- -10 §5.2 adds "DPoP combined mode" (a DPoP proof instead of the PoP header,
  ``attest_jwt_client_auth_dpop``). It is not accepted: a request with the attestation and
  no PoP header is refused (-10 §7.4, "the proof of possession is not supported").
- Challenges (-07 §8, -10 §6: a challenge endpoint returning ``attestation_challenge``, or
  the ``OAuth-Client-Attestation-Challenge`` response header) are the same in both.
  :class:`AttestationChallenges` makes them stateless: expiry and a MAC under a secret
  bound to this server's issuer identifier, so any worker can check one.

Errors (-07 §6.2, -10 §7.4): ``invalid_client_attestation`` (an ``invalid_client``, HTTP
401) when the attestation or its PoP does not verify; ``use_attestation_challenge`` when
the PoP lacks a challenge this server issued (with a fresh one for the
``OAuth-Client-Attestation-Challenge`` header); ``use_fresh_attestation`` when the
attestation is older than this server accepts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import msgspec
from cryptography import x509
from msgspec import UNSET, UnsetType

from core.clock import SYSTEM_CLOCK, Clock
from core.encoding import EncodingError, b64url_decode, b64url_encode
from core.errors import InvalidClientAttestation, UseAttestationChallenge, UseFreshAttestation
from core.jose.algorithms import (
    DEFAULT_ALGORITHMS,
    SIGNATURE_ALGORITHMS,
    PublicKey,
    allowed_algorithm,
)
from core.jose.claims import InvalidClaims, check_time_claims, numeric_date
from core.jose.errors import JoseError
from core.jose.jwk import jwk_thumbprint, public_jwk, public_key_from_jwk
from core.jose.jws import UnverifiedJws, check_typ, decode_unverified, verify_decoded
from core.keys.x509 import (
    CertificateError,
    ValidatedChain,
    ValidatedChains,
    subject_display_name,
    validate_x5c,
)
from core.messages import Message, convert_message
from core.replay import SeenOnce, SingleUse, use_up

CLIENT_ATTESTATION_HEADER = "OAuth-Client-Attestation"
CLIENT_ATTESTATION_POP_HEADER = "OAuth-Client-Attestation-PoP"
#: The response header a fresh challenge travels in (-07 §8.1, -10 §6.2).
CLIENT_ATTESTATION_CHALLENGE_HEADER = "OAuth-Client-Attestation-Challenge"
CLIENT_ATTESTATION_TYP = "oauth-client-attestation+jwt"
CLIENT_ATTESTATION_POP_TYP = "oauth-client-attestation-pop+jwt"
#: ``token_endpoint_auth_methods_supported`` value (-07 §10.1, -10 §8).
ATTESTATION_AUTH_METHOD = "attest_jwt_client_auth"
#: The ``SeenOnce`` scope of PoP ``jti`` values.
POP_JTI_SCOPE = "client_attestation_pop"

#: An attestation carries its certificate chain; the server refuses request headers above
#: 32 KiB in all, so one attestation may take half of that.
MAX_CLIENT_ATTESTATION_BYTES = 16 * 1024
MAX_CLIENT_ATTESTATION_POP_BYTES = 4 * 1024
MAX_JTI_LENGTH = 256
MAX_CHALLENGE_LENGTH = 128

#: RFC 9110 §11.2 ``token68``, the syntax of both header values (-07 §6.1, -10 §4, §5.1).
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_HEADER_NAMES = {
    CLIENT_ATTESTATION_HEADER.lower(): CLIENT_ATTESTATION_HEADER,
    CLIENT_ATTESTATION_POP_HEADER.lower(): CLIENT_ATTESTATION_POP_HEADER,
}


# -- what the wallet sends ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientAttestationPresentation:
    """The Client Attestation JWT and its PoP JWT as received, not yet verified."""

    attestation: str
    pop: str


def read_client_attestation_headers(
    headers: Iterable[tuple[str | bytes, str | bytes]],
) -> ClientAttestationPresentation | None:
    """The two header fields of a request (-07 §6.1, §6.2 rules 1 and 2; -10 §7.1 rule 1,
    §7.2 rule 1), from its header pairs as the server received them (names in any case,
    ASGI bytes or text). None when the request carries neither: it uses another client
    authentication method, or none.

    Each field must occur exactly once with a single ``token68`` value of bounded size;
    an attestation without a PoP header (-10 §5.2 DPoP combined mode) is refused.
    """
    values: dict[str, list[str]] = {name: [] for name in _HEADER_NAMES.values()}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1") if isinstance(raw_name, bytes) else raw_name
        canonical = _HEADER_NAMES.get(name.lower())
        if canonical is None:
            continue
        found = values[canonical]
        if len(found) > 1:
            continue  # refused below; no need to keep more
        found.append(raw_value.decode("latin-1") if isinstance(raw_value, bytes) else raw_value)
    attestations = values[CLIENT_ATTESTATION_HEADER]
    pops = values[CLIENT_ATTESTATION_POP_HEADER]
    if not attestations and not pops:
        return None
    if not attestations:
        raise InvalidClientAttestation(
            f"the {CLIENT_ATTESTATION_POP_HEADER} header comes without an"
            f" {CLIENT_ATTESTATION_HEADER} header"
        )
    if not pops:
        raise InvalidClientAttestation(
            f"the {CLIENT_ATTESTATION_HEADER} header needs an {CLIENT_ATTESTATION_POP_HEADER}"
            " header: no other proof of possession is supported"
        )
    return ClientAttestationPresentation(
        attestation=_single_token(
            CLIENT_ATTESTATION_HEADER, attestations, MAX_CLIENT_ATTESTATION_BYTES
        ),
        pop=_single_token(CLIENT_ATTESTATION_POP_HEADER, pops, MAX_CLIENT_ATTESTATION_POP_BYTES),
    )


def read_concatenated_client_attestation(value: str) -> ClientAttestationPresentation:
    """-07 §7: ``<Client Attestation>~<Client Attestation PoP>``, the serialization for
    uses where headers do not fit (§7.2: exactly one JWT on each side of one ``~``).
    Draft -08 removed it; HTTP endpoints take the headers."""
    if not isinstance(value, str) or len(value) > (
        MAX_CLIENT_ATTESTATION_BYTES + 1 + MAX_CLIENT_ATTESTATION_POP_BYTES
    ):
        raise InvalidClientAttestation("the concatenated client attestation is too large")
    parts = value.split("~")
    if len(parts) != 2:
        raise InvalidClientAttestation(
            "a concatenated client attestation is two JWTs separated by one '~'"
        )
    attestation, pop = parts
    return ClientAttestationPresentation(
        attestation=_single_token(
            "client attestation", [attestation], MAX_CLIENT_ATTESTATION_BYTES
        ),
        pop=_single_token("client attestation PoP", [pop], MAX_CLIENT_ATTESTATION_POP_BYTES),
    )


def _single_token(name: str, values: list[str], max_bytes: int) -> str:
    if len(values) != 1:
        raise InvalidClientAttestation(f"the request must carry exactly one {name} header")
    value = values[0].strip(" \t")
    if len(value) > max_bytes:
        raise InvalidClientAttestation(f"the {name} is larger than {max_bytes} bytes")
    if not _TOKEN68.fullmatch(value) or value.count(".") != 2:
        raise InvalidClientAttestation(f"the {name} is not a single compact JWT")
    return value


# -- the claims -----------------------------------------------------------------------

NumericDate = int | float


class AttestationStatusListReference(Message):
    """Token Status List §6.2: where the attestation's status is published."""

    idx: Annotated[int, msgspec.Meta(ge=0)]
    uri: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]


class AttestationStatus(Message):
    """OpenID4VCI 1.0 Appendix E ``status``: a status mechanism (Token Status List)."""

    status_list: AttestationStatusListReference | UnsetType = UNSET


class AttestationConfirmation(Message):
    """RFC 7800 ``cnf``: the wallet instance's key, as a JWK (-07 §5.1, -10 §4)."""

    jwk: dict[str, Any]


class WalletAttestationClaims(Message):
    """The claims of a Client Attestation JWT (-07 §5.1, -10 §4) with the Wallet
    Attestation claims of OpenID4VCI 1.0 Appendix E. Claims not listed are ignored
    (-07 §5.1 rule 1)."""

    malformed: ClassVar[type[Exception]] = InvalidClientAttestation

    #: The ``client_id``: the wallet type, shared by all its instances (OpenID4VCI §15.4.4).
    sub: Annotated[str, msgspec.Meta(min_length=1)]
    exp: NumericDate
    cnf: AttestationConfirmation
    #: The wallet provider (REQUIRED in -07, removed in -08).
    iss: Annotated[str, msgspec.Meta(min_length=1)] | UnsetType = UNSET
    iat: NumericDate | UnsetType = UNSET
    nbf: NumericDate | UnsetType = UNSET
    wallet_name: str | UnsetType = UNSET
    wallet_link: str | UnsetType = UNSET
    status: AttestationStatus | UnsetType = UNSET


class AttestedClient(msgspec.Struct, frozen=True, kw_only=True):
    """A client authenticated by its wallet attestation, as the PAR and token endpoints
    record it: the ``client_id`` (the wallet type), the wallet provider as its certificate
    names it (organization, else common name), the attestation's claims and the RFC 7638
    thumbprint of the wallet instance's key (``cnf``), which identifies the instance and
    binds refresh tokens to it (-07 §10.3, -10 §9.3)."""

    client_id: str
    wallet_provider: str | None
    attestation: WalletAttestationClaims
    cnf_jkt: str


@dataclass(frozen=True, slots=True)
class CheckedClientAttestation:
    """A client whose attestation and PoP passed every check but the last: the PoP's
    ``jti``, still to be used up (``core.replay``) before the client is taken as
    authenticated."""

    client: AttestedClient
    pop_jti: SingleUse


@dataclass(frozen=True, slots=True)
class VerifiedClientAttestation:
    """A Client Attestation JWT that verified, before its proof of possession."""

    claims: WalletAttestationClaims
    wallet_provider_certificate: x509.Certificate
    instance_key: PublicKey
    instance_key_thumbprint: str


# -- challenges -----------------------------------------------------------------------

_CHALLENGE_VERSION = b"\x01"
_CHALLENGE_RANDOM_BYTES = 16
_CHALLENGE_MAC_BYTES = 16
_CHALLENGE_LENGTH = 1 + 8 + _CHALLENGE_RANDOM_BYTES + _CHALLENGE_MAC_BYTES


class AttestationChallenges:
    """Server-provided challenges (-07 §8, -10 §6) that need no storage: each carries its
    expiry and a MAC under ``secret`` bound to this server's issuer identifier, so any
    worker can check one. They prove freshness within ``lifetime``; replay within it is
    caught by the PoP's single-use ``jti`` (-07 §12.1, -10 §11.1 "self-contained
    challenges")."""

    def __init__(
        self,
        secret: bytes,
        *,
        issuer: str,
        lifetime: float = 300,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if len(secret) < 32:
            raise ValueError("the challenge secret must have at least 32 bytes")
        if lifetime <= 0:
            raise ValueError("the challenge lifetime must be positive")
        self._secret = secret
        self._context = b"idwallet client attestation challenge\x00" + issuer.encode() + b"\x00"
        self._lifetime = lifetime
        self._clock = clock

    def _mac(self, body: bytes) -> bytes:
        digest = hmac.new(self._secret, self._context + body, hashlib.sha256).digest()
        return digest[:_CHALLENGE_MAC_BYTES]

    def issue(self) -> str:
        """A fresh challenge, for the challenge endpoint's ``attestation_challenge`` or the
        ``OAuth-Client-Attestation-Challenge`` response header."""
        expires_at = int(self._clock.now() + self._lifetime)
        body = (
            _CHALLENGE_VERSION
            + expires_at.to_bytes(8, "big", signed=True)
            + os.urandom(_CHALLENGE_RANDOM_BYTES)
        )
        return b64url_encode(body + self._mac(body))

    def valid_until(self, challenge: object) -> float | None:
        """The challenge's expiry if this server issued it and it has not expired; None
        otherwise."""
        if not isinstance(challenge, str) or len(challenge) > MAX_CHALLENGE_LENGTH:
            return None
        try:
            raw = b64url_decode(challenge)
        except EncodingError:
            return None
        if len(raw) != _CHALLENGE_LENGTH or raw[:1] != _CHALLENGE_VERSION:
            return None
        body, mac = raw[:-_CHALLENGE_MAC_BYTES], raw[-_CHALLENGE_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        expires_at = int.from_bytes(body[1:9], "big", signed=True)
        if expires_at <= self._clock.now():
            return None
        return float(expires_at)


# -- verification ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientAttestationPolicy:
    """What this server accepts.

    ``issuer``: its issuer identifier (RFC 8414), the PoP's ``aud``.
    ``wallet_provider_anchors``: root certificates of the wallet providers it trusts.
    ``attestation_algorithms`` / ``pop_algorithms``: explicit allow-lists (-07 §9 rule 4;
    the JOSE registry has no ``none``, HMAC or RSA to allow); HAIP requires ES256.
    ``pop_lifetime``: how long after its ``iat`` a PoP is accepted (-07 §10.6, -10 §9.7).
    ``clock_skew``: tolerance for clocks ahead or behind on ``exp``, ``nbf`` and ``iat``.
    ``challenge_required``: every PoP must carry a challenge this server issued (a server
    with a challenge endpoint, -07 §8, -10 §6.1: "the Client MUST retrieve a challenge").
    ``max_attestation_age``: when set, an attestation needs an ``iat`` no older than this
    (-07 §9 rule 11, -10 §7.1 rule 6); ``exp`` alone is checked otherwise.
    """

    issuer: str
    wallet_provider_anchors: tuple[x509.Certificate, ...]
    attestation_algorithms: frozenset[str] = DEFAULT_ALGORITHMS
    pop_algorithms: frozenset[str] = DEFAULT_ALGORITHMS
    pop_lifetime: float = 300
    clock_skew: float = 60
    challenge_required: bool = False
    max_attestation_age: float | None = None

    def __post_init__(self) -> None:
        if not self.issuer:
            raise ValueError("the issuer identifier is required")
        if not self.wallet_provider_anchors:
            raise ValueError("at least one wallet-provider anchor is required")
        for allowed in (self.attestation_algorithms, self.pop_algorithms):
            if not allowed or not allowed <= SIGNATURE_ALGORITHMS.keys():
                raise ValueError("algorithm allow-lists must name registered algorithms")
        if self.pop_lifetime <= 0 or self.clock_skew < 0:
            raise ValueError("the PoP lifetime must be positive and the clock skew not negative")


class ClientAttestationVerifier:
    """Verifies a wallet's Client Attestation and its PoP (-07 §9, -10 §7.1 and §7.2).

    ``chains``: where the wallet providers' certificate chains that validated are
    remembered (``ValidatedChains``), as every instance of a wallet sends the same one;
    without it each is path-validated afresh. The attestation's own signature, its claims
    and its PoP are verified every time."""

    def __init__(
        self,
        policy: ClientAttestationPolicy,
        *,
        seen_once: SeenOnce,
        challenges: AttestationChallenges | None = None,
        clock: Clock = SYSTEM_CLOCK,
        chains: ValidatedChains | None = None,
    ) -> None:
        if policy.challenge_required and challenges is None:
            raise ValueError("requiring challenges needs a challenge issuer")
        self._policy = policy
        self._seen_once = seen_once
        self._challenges = challenges
        self._clock = clock
        self._chains = chains

    async def verify(
        self, presentation: ClientAttestationPresentation, *, client_id: str | None
    ) -> AttestedClient:
        """Both JWTs, attestation first (-07 §6.1 recommends it). ``client_id``: the
        request's ``client_id`` parameter where it has one; it must be the attestation's
        ``sub`` (-07 §6.3, §6.4, §9 rule 13; -10 §7.1 rule 7; HAIP)."""
        checked = self.check(presentation, client_id=client_id)
        await use_up(self._seen_once, checked.pop_jti)
        return checked.client

    def check(
        self, presentation: ClientAttestationPresentation, *, client_id: str | None
    ) -> CheckedClientAttestation:
        """``verify`` but for the PoP's ``jti``, handed back to be used up by the caller
        (in the same statement as the change the authentication allows, where its storage
        can) before it takes the client as authenticated."""
        attestation = self.verify_attestation(presentation.attestation, client_id=client_id)
        pop_jti = self.check_pop(presentation.pop, attestation)
        return CheckedClientAttestation(
            AttestedClient(
                client_id=attestation.claims.sub,
                wallet_provider=subject_display_name(attestation.wallet_provider_certificate),
                attestation=attestation.claims,
                cnf_jkt=attestation.instance_key_thumbprint,
            ),
            pop_jti,
        )

    def verify_attestation(self, token: str, *, client_id: str | None) -> VerifiedClientAttestation:
        """The Client Attestation JWT (-07 §5.1 and §9 rules 2, 4, 5, 6, 11, 13; -10 §7.1):
        ``typ``, ``alg`` in the allow-list, signed by a certificate whose ``x5c`` chain
        validates to a wallet-provider anchor, ``exp`` in the future, ``iat`` and ``nbf``
        not, ``sub`` the ``client_id``, ``cnf.jwk`` a public key."""
        policy = self._policy
        now = self._clock.now()
        parsed = _decode(token, MAX_CLIENT_ATTESTATION_BYTES, "client attestation")
        _check_header(parsed, CLIENT_ATTESTATION_TYP, policy.attestation_algorithms)
        if "x5c" not in parsed.header:
            raise InvalidClientAttestation(
                "the client attestation has no x5c header with its wallet provider's certificate"
            )
        try:
            provider = self._provider_chain(parsed.header["x5c"], now)
        except CertificateError as exc:
            raise InvalidClientAttestation(
                "the client attestation is not signed by a trusted wallet provider",
                detail=f"wallet provider chain refused: {exc}",
            ) from None
        payload = _verified_payload(
            parsed,
            provider.key,
            typ=CLIENT_ATTESTATION_TYP,
            algorithms=policy.attestation_algorithms,
            max_bytes=MAX_CLIENT_ATTESTATION_BYTES,
            what="client attestation",
        )
        try:
            check_time_claims(payload, now=now, leeway=policy.clock_skew, required=("exp",))
        except InvalidClaims as exc:
            raise InvalidClientAttestation(
                f"the client attestation's dates are not acceptable: {exc}"
            ) from None
        claims = convert_message(payload, WalletAttestationClaims)
        if client_id is not None and claims.sub != client_id:
            raise InvalidClientAttestation(
                "the client attestation's sub is not the client_id of the request"
            )
        try:
            instance_key = public_key_from_jwk(claims.cnf.jwk)
        except JoseError as exc:
            raise InvalidClientAttestation(
                f"the client attestation's cnf.jwk is not a usable public key: {exc}"
            ) from None
        if policy.max_attestation_age is not None:
            issued_at = claims.iat
            if isinstance(issued_at, UnsetType) or issued_at < now - policy.max_attestation_age:
                raise UseFreshAttestation(
                    "the client attestation is older than this server accepts;"
                    " fetch a fresh one from the wallet provider"
                )
        return VerifiedClientAttestation(
            claims=claims,
            wallet_provider_certificate=provider.leaf,
            instance_key=instance_key,
            instance_key_thumbprint=jwk_thumbprint(public_jwk(instance_key)),
        )

    def _provider_chain(self, x5c: object, now: float) -> ValidatedChain:
        """The wallet provider's certificate and key, its chain validated to an anchor."""
        anchors = self._policy.wallet_provider_anchors
        if self._chains is not None:
            return self._chains.validate(x5c, anchors, now=now)
        leaf = validate_x5c(x5c, anchors, at=dt.datetime.fromtimestamp(now, dt.UTC))
        return ValidatedChain.from_leaf(leaf)

    async def verify_pop(self, token: str, attestation: VerifiedClientAttestation) -> None:
        """The Client Attestation PoP JWT (-07 §5.2 and §9 rules 3, 4, 7 to 10 and 12;
        -10 §7.2): ``typ``, ``alg`` in the allow-list, signed by the attestation's
        ``cnf`` key, ``iat`` within the freshness window, ``aud`` this server, ``iss`` (when
        present) the ``client_id``, the challenge when one is expected, and a ``jti`` never
        seen before: recorded last, once everything else holds (-10 §9.7)."""
        await use_up(self._seen_once, self.check_pop(token, attestation))

    def check_pop(self, token: str, attestation: VerifiedClientAttestation) -> SingleUse:
        """Every check of ``verify_pop`` but the last: the ``jti``, to be used up."""
        policy = self._policy
        now = self._clock.now()
        parsed = _decode(token, MAX_CLIENT_ATTESTATION_POP_BYTES, "client attestation PoP")
        payload = _verified_payload(
            parsed,
            attestation.instance_key,
            typ=CLIENT_ATTESTATION_POP_TYP,
            algorithms=policy.pop_algorithms,
            max_bytes=MAX_CLIENT_ATTESTATION_POP_BYTES,
            what="client attestation PoP",
        )
        try:
            check_time_claims(payload, now=now, leeway=policy.clock_skew, required=("iat",))
            issued_at = numeric_date(payload, "iat")
        except InvalidClaims as exc:
            raise InvalidClientAttestation(
                f"the client attestation PoP's dates are not acceptable: {exc}"
            ) from None
        if issued_at is None or issued_at < now - policy.pop_lifetime:
            raise InvalidClientAttestation(
                "the client attestation PoP is too old; sign a new one for this request"
            )
        aud = payload.get("aud")
        if aud not in (policy.issuer, [policy.issuer]):
            raise InvalidClientAttestation(
                "the client attestation PoP's aud is not this authorization server"
            )
        if "iss" in payload and payload["iss"] != attestation.claims.sub:
            raise InvalidClientAttestation(
                "the client attestation PoP's iss is not the client_id of the attestation"
            )
        jti = payload.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise InvalidClientAttestation(
                f"the client attestation PoP needs a jti of 1 to {MAX_JTI_LENGTH} characters"
            )
        self._check_challenge(payload)
        return SingleUse(
            POP_JTI_SCOPE,
            _jti_record(attestation.instance_key_thumbprint, jti),
            issued_at + policy.pop_lifetime + policy.clock_skew,
            InvalidClientAttestation(
                "the client attestation PoP was used before; sign a new one for each request"
            ),
        )

    def _check_challenge(self, payload: dict[str, Any]) -> None:
        """-07 §9 rule 8, -10 §7.2 rules 5 and 8."""
        challenges = self._challenges
        if challenges is None:
            return
        if "challenge" not in payload:
            if self._policy.challenge_required:
                raise UseAttestationChallenge(
                    "the client attestation PoP must carry a challenge from this server",
                    challenge=challenges.issue(),
                )
            return
        if challenges.valid_until(payload["challenge"]) is None:
            raise UseAttestationChallenge(
                "the client attestation PoP's challenge is not a current one from this server",
                challenge=challenges.issue(),
            )


def _jti_record(instance_key_thumbprint: str, jti: str) -> str:
    """What ``SeenOnce`` keeps of a PoP's ``jti``: a fixed-size digest of the instance key
    and the ``jti``, so one wallet instance's values never collide with another's."""
    material = f"{instance_key_thumbprint}\x00{jti}".encode()
    return b64url_encode(hashlib.sha256(material).digest())


def _decode(token: str, max_bytes: int, what: str) -> UnverifiedJws:
    try:
        return decode_unverified(token, max_bytes=max_bytes)
    except JoseError as exc:
        raise InvalidClientAttestation(f"the {what} is not a well-formed JWT: {exc}") from None


def _check_header(parsed: UnverifiedJws, typ: str, algorithms: frozenset[str]) -> None:
    """``typ`` and ``alg`` before anything costly (-07 §9 rules 2 to 4, -10 §7.1 rule 3)."""
    try:
        check_typ(parsed.header, typ)
        allowed_algorithm(parsed.header.get("alg"), algorithms)
    except JoseError as exc:
        raise InvalidClientAttestation(f"the {typ} header is not acceptable: {exc}") from None


def _verified_payload(
    parsed: UnverifiedJws,
    key: PublicKey,
    *,
    typ: str,
    algorithms: frozenset[str],
    max_bytes: int,
    what: str,
) -> dict[str, Any]:
    try:
        return verify_decoded(
            parsed, key, algorithms=algorithms, typ=typ, max_payload_bytes=max_bytes
        ).payload
    except JoseError as exc:
        raise InvalidClientAttestation(f"the {what} does not verify: {exc}") from None
