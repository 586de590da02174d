"""Key attestations in JWT format (OpenID4VCI 1.0 Appendix D.1, profiled by HAIP 1.0 §4.5.1):
a wallet provider's signed statement that some public keys live in a key storage component
of a stated attack potential resistance (Appendix D.2).

What is checked here, in this order: the size (before anything is parsed), ``typ``
``key-attestation+jwt``, ``alg`` in the caller's allow-list (the registry has no ``none``
and no MAC, so neither can be allowed), the ``x5c`` chain to one of the wallet-provider
trust anchors the caller passes in (HAIP: the signing key is in ``x5c``, the anchor is not,
and the signing certificate is not self-signed), the signature, the claims as a typed
message (unknown claims ignored), ``iat`` within the caller's window, ``exp`` (when present,
or when the caller requires it) not passed, and ``attested_keys`` a non-empty array of
distinct public JWKs.

Left to the caller: the ``nonce`` (a ``c_nonce`` of the issuer when the attestation is the
proof itself, Appendix F.3, or travels in a ``jwt`` proof, Appendix F.1), the ``status``
of the attestation, and whether the attested levels meet the credential's
``key_attestations_required`` (§12.2.4), which :meth:`KeyAttestationClaims.meets` decides.
Every refusal is ``invalid_proof`` (§8.3.1.2 names no other code for a key attestation
that is missing or not acceptable).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
from cryptography import x509
from msgspec import UNSET, UnsetType

from core.encoding import EncodingError, strict_json_object
from core.errors import InvalidProof
from core.jose.algorithms import PublicKey, algorithm_for_key
from core.jose.claims import MAX_NUMERIC_DATE
from core.jose.errors import JoseError
from core.jose.jwk import jwk_thumbprint, public_jwk, public_key_from_jwk
from core.jose.jws import UnverifiedJws, decode_unverified, verify_decoded
from core.keys.x509 import (
    CertificateError,
    ValidatedChains,
    leaf_public_key,
    validate_x5c,
)
from core.messages import Message, convert_message
from core.oid4vci_metadata import KeyAttestationsRequired

KEY_ATTESTATION_TYP = "key-attestation+jwt"
#: A key attestation also travels inside the header of a ``jwt`` proof (Appendix F.1),
#: whose encoded header is at most 16 KiB: the attestation must fit there, base64url and all.
MAX_KEY_ATTESTATION_BYTES = 10 * 1024
#: More keys than any batch this deployment issues, far fewer than the size limit allows.
MAX_ATTESTED_KEYS = 32
MAX_LEVELS = 16
_MAX_PAYLOAD_DEPTH = 8

#: Appendix D.2: the attack potential resistance levels this specification defines
#: (ecosystems may add their own, preferably URLs).
ISO_18045_LEVELS = (
    "iso_18045_high",
    "iso_18045_moderate",
    "iso_18045_enhanced-basic",
    "iso_18045_basic",
)

_NumericDate = Annotated[int, msgspec.Meta(ge=0, le=MAX_NUMERIC_DATE)]
_Level = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
_Levels = Annotated[list[_Level], msgspec.Meta(min_length=1, max_length=MAX_LEVELS)]
_AttestedKeys = Annotated[
    list[dict[str, Any]], msgspec.Meta(min_length=1, max_length=MAX_ATTESTED_KEYS)
]


class KeyAttestationClaims(Message):
    """The claims of a key attestation (Appendix D.1); unknown claims are ignored."""

    malformed = InvalidProof

    iat: _NumericDate
    attested_keys: _AttestedKeys
    exp: _NumericDate | UnsetType = UNSET
    key_storage: _Levels | UnsetType = UNSET
    user_authentication: _Levels | UnsetType = UNSET
    certification: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)] | UnsetType = UNSET
    nonce: Annotated[str, msgspec.Meta(min_length=1, max_length=512)] | UnsetType = UNSET
    status: dict[str, Any] | UnsetType = UNSET
    iss: Annotated[str, msgspec.Meta(max_length=2048)] | UnsetType = UNSET

    @classmethod
    def rejection(cls, description: str) -> Exception:
        return InvalidProof(f"the key attestation is malformed: {description}")

    def check(self) -> None:
        if self.certification is not UNSET:
            parts = urlsplit(self.certification)
            if parts.scheme not in ("https", "http") or not parts.netloc:
                raise InvalidProof("the key attestation's certification must be a URL")

    def unmet(self, required: KeyAttestationsRequired) -> tuple[str, ...]:
        """The kinds (``key_storage``, ``user_authentication``) for which ``required`` names
        accepted levels and this attestation attests none of them."""
        wanted = (
            ("key_storage", required.key_storage, self.key_storage),
            ("user_authentication", required.user_authentication, self.user_authentication),
        )
        return tuple(
            kind
            for kind, accepted, attested in wanted
            if not isinstance(accepted, UnsetType)
            and (isinstance(attested, UnsetType) or not set(accepted).intersection(attested))
        )

    def meets(self, required: KeyAttestationsRequired) -> bool:
        """§12.2.4: an empty requirement accepts any (trusted) key attestation; otherwise
        at least one accepted level of each kind it names must be attested. Levels are
        compared as the case-sensitive strings they are: a higher level does not stand in
        for a lower one the requirement does not list."""
        return not self.unmet(required)


@dataclass(frozen=True, slots=True)
class AttestedKey:
    """One of ``attested_keys``: its public JWK (only the RFC 7638 members), thumbprint and
    the one signature algorithm it is used with."""

    jwk: dict[str, str]
    thumbprint: str
    algorithm: str


@dataclass(frozen=True, slots=True)
class VerifiedKeyAttestation:
    claims: KeyAttestationClaims
    keys: tuple[AttestedKey, ...]
    #: The wallet provider's certificate that signed the attestation (the ``x5c`` leaf).
    signer_certificate: x509.Certificate

    def attests(self, thumbprint: str) -> bool:
        """Whether the key with this RFC 7638 thumbprint is among ``attested_keys``."""
        return any(key.thumbprint == thumbprint for key in self.keys)

    def meets(self, required: KeyAttestationsRequired) -> bool:
        return self.claims.meets(required)

    def require(self, required: KeyAttestationsRequired) -> None:
        """``invalid_proof`` naming what is short when the attestation does not meet
        ``required``."""
        unmet = self.claims.unmet(required)
        if unmet:
            accepted = "; ".join(
                f"{kind} one of {', '.join(getattr(required, kind))}" for kind in unmet
            )
            raise InvalidProof(
                f"the key attestation does not attest a level this credential requires ({accepted})"
            )


class _WalletProviderKey:
    """Chooses the attestation's signing key from its ``x5c`` chain, once the chain
    validates to one of the anchors, and keeps the signing certificate."""

    def __init__(
        self, anchors: Sequence[x509.Certificate], now: float, chains: ValidatedChains | None
    ) -> None:
        self._anchors = anchors
        self._now = now
        self._chains = chains
        self.certificate: x509.Certificate | None = None

    def __call__(self, header: Mapping[str, Any]) -> PublicKey:
        if "jwk" in header or "trust_chain" in header:
            raise InvalidProof("a key attestation is signed by the key of its x5c certificate")
        if "x5c" not in header:
            raise InvalidProof("the key attestation has no x5c certificate chain")
        if not self._anchors:
            raise InvalidProof("no wallet provider is trusted for key attestations")
        try:
            if self._chains is not None:
                validated = self._chains.validate(header["x5c"], self._anchors, now=self._now)
                self.certificate = validated.leaf
                return validated.key
            at = dt.datetime.fromtimestamp(self._now, dt.UTC)
            self.certificate = validate_x5c(header["x5c"], self._anchors, at=at)
            return leaf_public_key(self.certificate)
        except CertificateError as exc:
            raise InvalidProof(
                "the key attestation's certificate chain does not lead to a trusted wallet "
                "provider",
                detail=f"key attestation chain refused: {exc}",
            ) from exc


def _attested_keys(values: list[dict[str, Any]]) -> tuple[AttestedKey, ...]:
    keys = []
    for index, value in enumerate(values):
        try:
            key = public_key_from_jwk(value)
        except JoseError as exc:
            raise InvalidProof(f"attested_keys[{index}] is not an acceptable public JWK") from exc
        jwk = public_jwk(key)
        keys.append(AttestedKey(jwk, jwk_thumbprint(jwk), algorithm_for_key(key).name))
    if len({key.thumbprint for key in keys}) != len(keys):
        raise InvalidProof("the key attestation lists a key twice in attested_keys")
    return tuple(keys)


def _payload(parsed: UnverifiedJws) -> dict[str, Any]:
    try:
        return strict_json_object(
            parsed.payload_bytes,
            max_bytes=MAX_KEY_ATTESTATION_BYTES,
            max_depth=_MAX_PAYLOAD_DEPTH,
        )
    except EncodingError as exc:
        raise InvalidProof(f"the key attestation's payload is not a JSON object: {exc}") from exc


def verify_key_attestation(
    token: object,
    *,
    anchors: Sequence[x509.Certificate],
    algorithms: Collection[str],
    now: float,
    max_age: float,
    leeway: float,
    exp_required: bool = False,
    chains: ValidatedChains | None = None,
) -> VerifiedKeyAttestation:
    """Verify a key attestation JWT (Appendix D.1) signed under one of ``anchors``.

    ``iat`` may be at most ``max_age`` seconds old and not in the future (both with
    ``leeway``); ``exp``, required where ``exp_required`` (a key attestation in a ``jwt``
    proof, Appendix D.1), must not have passed. ``chains``: where the wallet providers'
    chains that validated are remembered (``ValidatedChains``); without it the ``x5c``
    chain is path-validated afresh. The signature and claims are verified every time.
    """
    if not isinstance(token, str) or not token:
        raise InvalidProof("a key attestation is a compact JWT")
    if len(token) > MAX_KEY_ATTESTATION_BYTES:
        raise InvalidProof(f"a key attestation is at most {MAX_KEY_ATTESTATION_BYTES} bytes")
    try:
        parsed = decode_unverified(token, max_bytes=MAX_KEY_ATTESTATION_BYTES)
        payload = _payload(parsed)
        signing_key = _WalletProviderKey(anchors, now, chains)
        verified = verify_decoded(
            parsed,
            signing_key,
            algorithms=algorithms,
            typ=KEY_ATTESTATION_TYP,
            payload=payload,
        )
    except JoseError as exc:
        raise InvalidProof(f"the key attestation does not verify: {exc}") from exc
    claims = convert_message(verified.payload, KeyAttestationClaims)
    if claims.iat > now + leeway:
        raise InvalidProof("the key attestation's iat is in the future")
    if claims.iat < now - max_age - leeway:
        raise InvalidProof("the key attestation is too old (iat); obtain a fresh one")
    if isinstance(claims.exp, UnsetType):
        if exp_required:
            raise InvalidProof("a key attestation in a jwt proof needs exp")
    elif claims.exp <= now - leeway:
        raise InvalidProof("the key attestation has expired")
    if signing_key.certificate is None:  # verify_decoded returns only once it was chosen
        raise InvalidProof("the key attestation has no x5c certificate chain")
    return VerifiedKeyAttestation(
        claims, _attested_keys(claims.attested_keys), signing_key.certificate
    )
