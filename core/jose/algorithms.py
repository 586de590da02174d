"""Registered JWS signature algorithms (RFC 7518 §3.4, RFC 8037 §3.1).

The registry is the only place an algorithm name becomes code. It deliberately has no
``none``, HMAC or RSA entry, so no caller can allow them by accident.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from core.jose.errors import AlgorithmNotAllowed, InvalidJwk, InvalidSignature

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True, slots=True)
class SignatureAlgorithm:
    name: str
    curve: str  # JWK "crv"
    hash: type[hashes.HashAlgorithm] | None
    size: int  # bytes per signature half (EC) or whole signature (EdDSA)

    def check_key(self, key: PublicKey | PrivateKey) -> None:
        """The key must be of the family and curve this algorithm requires."""
        if self.hash is None:
            ok = isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey)
        else:
            ok = (
                isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey)
                and key.curve.name == _EC_CURVES[self.curve].name
            )
        if not ok:
            raise InvalidJwk(f"key does not match algorithm {self.name}")

    def sign(self, key: PrivateKey, data: bytes) -> bytes:
        self.check_key(key)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(data)
        if self.hash is None:
            raise AlgorithmNotAllowed(f"{self.name} signs only with an Ed25519 key")
        der = key.sign(data, _ECDSA[self.name])
        r, s = decode_dss_signature(der)
        return r.to_bytes(self.size, "big") + s.to_bytes(self.size, "big")

    def verify(self, key: PublicKey, signature: bytes, data: bytes) -> None:
        """Return on success, raise :class:`InvalidSignature` otherwise."""
        try:
            if self.hash is None:
                if not isinstance(key, ed25519.Ed25519PublicKey):
                    raise InvalidJwk(f"key does not match algorithm {self.name}")
                if len(signature) != self.size:
                    raise InvalidSignature("signature has the wrong length")
                key.verify(signature, data)
                return
            # EC keys carry their curve; Ed25519 keys do not (a cheap check on the hot path).
            curve = getattr(key, "curve", None)
            if curve is None or curve.name != _EC_CURVES[self.curve].name:
                raise InvalidJwk(f"key does not match algorithm {self.name}")
            if len(signature) != 2 * self.size:
                raise InvalidSignature("signature has the wrong length")
            r = int.from_bytes(signature[: self.size], "big")
            s = int.from_bytes(signature[self.size :], "big")
            key.verify(encode_dss_signature(r, s), data, _ECDSA[self.name])  # type: ignore[call-arg]
        except _CryptoInvalidSignature as exc:
            raise InvalidSignature("signature does not verify") from exc


_EC_CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}

ES256 = SignatureAlgorithm("ES256", "P-256", hashes.SHA256, 32)
ES384 = SignatureAlgorithm("ES384", "P-384", hashes.SHA384, 48)
ES512 = SignatureAlgorithm("ES512", "P-521", hashes.SHA512, 66)
EDDSA = SignatureAlgorithm("EdDSA", "Ed25519", None, 64)

_ECDSA = {a.name: ec.ECDSA(a.hash()) for a in (ES256, ES384, ES512) if a.hash is not None}

SIGNATURE_ALGORITHMS: dict[str, SignatureAlgorithm] = {
    a.name: a for a in (ES256, ES384, ES512, EDDSA)
}

#: The default allow-list for anything credential-related (HAIP mandates ES256).
DEFAULT_ALGORITHMS: frozenset[str] = frozenset({"ES256"})


def ec_curve(crv: str) -> ec.EllipticCurve:
    try:
        return _EC_CURVES[crv]
    except KeyError:
        raise InvalidJwk(f"unsupported curve {crv!r}") from None


def allowed_algorithm(name: object, allowed: Collection[str]) -> SignatureAlgorithm:
    """Look ``name`` up in the caller's allow-list, which may only name registered algorithms."""
    if not isinstance(name, str) or name not in allowed:
        raise AlgorithmNotAllowed(f"algorithm {name!r} is not allowed")
    try:
        return SIGNATURE_ALGORITHMS[name]
    except KeyError:
        raise AlgorithmNotAllowed(f"algorithm {name!r} is not supported") from None


def algorithm_for_key(key: PublicKey | PrivateKey) -> SignatureAlgorithm:
    """The one algorithm a key is used with (curve decides; RFC 7518 §3.4)."""
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return EDDSA
    for alg in (ES256, ES384, ES512):
        if key.curve.name == _EC_CURVES[alg.curve].name:
            return alg
    raise InvalidJwk("unsupported key")
