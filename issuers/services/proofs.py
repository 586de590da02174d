"""Key proofs (OpenID4VCI 1.0 Appendix F): the keys a credential will be bound to.

- ``jwt`` (Appendix F.1): the wallet proves it holds the key, for this issuer and this
  ``c_nonce``. A proof may carry a key attestation in its ``key_attestation`` header
  (Appendix D.1): then the attestation must verify, name the proof's own key among its
  ``attested_keys``, carry ``exp``, and carry a ``c_nonce`` of this issuer in its ``nonce``.
- ``attestation`` (Appendix F.3): the key attestation itself is the proof, without any
  proof of possession; its ``nonce`` must be a ``c_nonce`` of this issuer, and each
  attested key becomes a key to bind a credential to.

Whether a configuration requires key attestations, and of which levels (§12.2.4
``key_attestations_required``), the Credential Endpoint decides with what these return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from msgspec import UnsetType

from core.encoding import EncodingError, b64url_decode, strict_json_object
from core.errors import InvalidProof
from core.jose.algorithms import PublicKey
from core.jose.claims import InvalidClaims, numeric_date
from core.jose.errors import JoseError
from core.jose.jwk import jwk_thumbprint, public_jwk, public_key_from_jwk
from core.jose.jws import verify_compact
from core.key_attestation import VerifiedKeyAttestation, verify_key_attestation
from core.keys.x509 import ValidatedChains

PROOF_TYP = "openid4vci-proof+jwt"
#: A proof's header may carry a key attestation: the JWS header limit (16 KiB encoded)
#: bounds it, this the whole proof.
MAX_PROOF_BYTES = 16 * 1024
DID_JWK = "did:jwk:"
KEY_ATTESTATION_HEADER = "key_attestation"


@dataclass(frozen=True, slots=True)
class KeyAttestationTrust:
    """What a key attestation is checked against: the wallet providers' anchors and how
    old its ``iat`` may be; ``chains`` remembers the providers' chains that validated."""

    anchors: Sequence[x509.Certificate]
    max_age: float
    chains: ValidatedChains | None = None


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """A key to bind one credential to, with the ``c_nonce`` its proof was made for and the
    key attestation that attests it, where there is one."""

    jwk: dict[str, str]
    thumbprint: str
    nonce: str
    key_attestation: VerifiedKeyAttestation | None = None

    @property
    def nonces(self) -> tuple[str, ...]:
        """Every ``c_nonce`` this proof used: its own, and its key attestation's."""
        attestation = self.key_attestation
        if attestation is None or isinstance(attestation.claims.nonce, UnsetType):
            return (self.nonce,)
        return tuple(dict.fromkeys((self.nonce, attestation.claims.nonce)))


def _key_from_header(header: Mapping[str, Any]) -> PublicKey:
    """Exactly one of ``jwk`` or ``kid`` (a self-contained ``did:jwk``); never ``x5c`` here."""
    has_jwk, has_kid = "jwk" in header, "kid" in header
    if has_jwk == has_kid or "x5c" in header or "trust_chain" in header:
        raise InvalidProof("the proof header needs exactly one of jwk or kid")
    try:
        if has_jwk:
            return public_key_from_jwk(header["jwk"])
        kid = header["kid"]
        if not isinstance(kid, str) or not kid.startswith(DID_JWK):
            raise InvalidProof("kid must be a did:jwk key reference")
        method_specific = kid[len(DID_JWK) :].split("#", 1)[0]
        return public_key_from_jwk(strict_json_object(b64url_decode(method_specific)))
    except (JoseError, EncodingError) as exc:
        raise InvalidProof(f"the proof key is not acceptable: {exc}") from exc


def _attestation_nonce(attestation: VerifiedKeyAttestation) -> str:
    """The issuer has a Nonce Endpoint, so a key attestation must carry a ``c_nonce``
    (Appendix F.1 for one in a ``jwt`` proof, F.3 for one that is the proof)."""
    nonce = attestation.claims.nonce
    if isinstance(nonce, UnsetType):
        raise InvalidProof("the key attestation has no c_nonce in its nonce claim")
    return nonce


def verify_jwt_proof(
    proof: object,
    *,
    audience: str,
    algorithms: frozenset[str],
    now: float,
    max_age: float,
    leeway: float,
    key_attestations: KeyAttestationTrust,
) -> VerifiedProof:
    """All checks but the nonces' freshness, which the caller settles once per request."""
    if not isinstance(proof, str) or len(proof) > MAX_PROOF_BYTES:
        raise InvalidProof("a jwt proof is a compact JWT")
    try:
        verified = verify_compact(
            proof, _key_from_header, algorithms=algorithms, typ=PROOF_TYP, max_bytes=MAX_PROOF_BYTES
        )
    except JoseError as exc:
        raise InvalidProof(f"the proof does not verify: {exc}") from exc
    payload = verified.payload
    if payload.get("aud") != audience:
        raise InvalidProof("the proof aud must be the credential issuer identifier")
    try:
        iat = numeric_date(payload, "iat")
    except InvalidClaims as exc:
        raise InvalidProof(f"the proof iat is not valid: {exc}") from exc
    if iat is None or iat > now + leeway or iat < now - max_age - leeway:
        raise InvalidProof("the proof iat is missing or outside the accepted window")
    nonce = payload.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise InvalidProof("the proof has no c_nonce")
    jwk = public_jwk(verified.key)
    thumbprint = jwk_thumbprint(jwk)
    attestation = None
    if KEY_ATTESTATION_HEADER in verified.header:
        attestation = verify_key_attestation(
            verified.header[KEY_ATTESTATION_HEADER],
            anchors=key_attestations.anchors,
            algorithms=algorithms,
            now=now,
            max_age=key_attestations.max_age,
            leeway=leeway,
            exp_required=True,
            chains=key_attestations.chains,
        )
        if not attestation.attests(thumbprint):
            raise InvalidProof("the proof's key is not among the key attestation's attested_keys")
        _attestation_nonce(attestation)
    return VerifiedProof(jwk, thumbprint, nonce, attestation)


def verify_attestation_proof(
    proof: str,
    *,
    algorithms: frozenset[str],
    now: float,
    leeway: float,
    key_attestations: KeyAttestationTrust,
    limit: int,
) -> list[VerifiedProof]:
    """An ``attestation`` proof (Appendix F.3): one key to bind a credential to for each of
    the first ``limit`` attested keys (the batch size), each a key for one of ``algorithms``.
    Its ``c_nonce``'s freshness is the caller's to settle, as for ``jwt`` proofs."""
    attestation = verify_key_attestation(
        proof,
        anchors=key_attestations.anchors,
        algorithms=algorithms,
        now=now,
        max_age=key_attestations.max_age,
        leeway=leeway,
        chains=key_attestations.chains,
    )
    nonce = _attestation_nonce(attestation)
    return _attested(attestation, nonce, algorithms, limit)


def _attested(
    attestation: VerifiedKeyAttestation, nonce: str, algorithms: frozenset[str], limit: int
) -> list[VerifiedProof]:
    keys = attestation.keys[:limit]
    for index, key in enumerate(keys):
        if key.algorithm not in algorithms:
            raise InvalidProof(
                f"attested_keys[{index}] is not a key for {', '.join(sorted(algorithms))}"
            )
    return [VerifiedProof(key.jwk, key.thumbprint, nonce, attestation) for key in keys]


def with_attested_keys(
    proofs: list[VerifiedProof], *, algorithms: frozenset[str], limit: int
) -> list[VerifiedProof]:
    """The keys of ``jwt`` proofs, then every other key their key attestations attest
    (Appendix F.1: the issuer SHOULD issue a credential for each attested key), each once,
    at most ``limit`` (the batch size)."""
    keys = {proof.thumbprint: proof for proof in proofs}
    for proof in proofs:
        if proof.key_attestation is None:
            continue
        attested = _attested(proof.key_attestation, proof.nonce, algorithms, limit)
        for key in attested:
            keys.setdefault(key.thumbprint, key)
    return list(keys.values())[:limit]
