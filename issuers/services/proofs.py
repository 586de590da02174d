"""Key proofs of type ``jwt`` (OpenID4VCI 1.0 Appendix F.1): the wallet proves it holds
the key the credential will be bound to, for this issuer and this ``c_nonce``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.encoding import EncodingError, b64url_decode, strict_json_object
from core.errors import InvalidProof
from core.jose.algorithms import PublicKey
from core.jose.claims import InvalidClaims, numeric_date
from core.jose.errors import JoseError
from core.jose.jwk import jwk_thumbprint, public_jwk, public_key_from_jwk
from core.jose.jws import verify_compact

PROOF_TYP = "openid4vci-proof+jwt"
MAX_PROOF_BYTES = 8 * 1024
DID_JWK = "did:jwk:"


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    jwk: dict[str, str]
    thumbprint: str
    nonce: str


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


def verify_jwt_proof(
    proof: object,
    *,
    audience: str,
    algorithms: frozenset[str],
    now: float,
    max_age: float,
    leeway: float,
) -> VerifiedProof:
    """All checks but the nonce's freshness, which the caller settles once per request."""
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
    return VerifiedProof(jwk, jwk_thumbprint(jwk), nonce)
