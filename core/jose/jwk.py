"""Public JWKs (RFC 7517): strict validation, conversion and RFC 7638 thumbprints.

A public JWK is accepted only if it is an EC key on P-256/P-384/P-521 whose point lies on
the curve, or an OKP Ed25519 key; it must carry no private member, and an ``alg`` member,
when present, must agree with the curve.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from core.encoding import EncodingError, b64url_decode, b64url_encode, json_dumps
from core.jose.algorithms import (
    SIGNATURE_ALGORITHMS,
    PrivateKey,
    PublicKey,
    algorithm_for_key,
    ec_curve,
)
from core.jose.errors import InvalidJwk

PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_EC_SIZES = {"P-256": 32, "P-384": 48, "P-521": 66}


class JwkSet(msgspec.Struct, omit_defaults=True):
    """RFC 7517 §5: a JWK Set as published; each key is checked when it is used."""

    keys: list[dict[str, Any]]


def public_key_from_jwk(jwk: object, *, remember: bool = True) -> PublicKey:
    """Validate a public JWK and return the key object.

    Parsing checks the point, so keys that recur (a wallet instance's DPoP or attestation
    key, an issuer's key) are remembered. A key that comes once with a credential, its
    holder key, is parsed with ``remember=False``: a verifier sees each credential once,
    and such keys would only push the recurring ones out.
    """
    if type(jwk) is not dict and not isinstance(jwk, Mapping):
        raise InvalidJwk("JWK is not an object")
    if PRIVATE_MEMBERS.intersection(jwk):
        raise InvalidJwk("JWK contains private key material")
    kty, crv, x, y = jwk.get("kty"), jwk.get("crv"), jwk.get("x"), jwk.get("y")
    if not (isinstance(kty, str) and isinstance(crv, str) and isinstance(x, str)):
        raise InvalidJwk("JWK members kty, crv and x must be strings")
    if y is not None and not isinstance(y, str):
        raise InvalidJwk("JWK member y must be a string")
    key = (_key_from_members if remember else _parse_key_members)(kty, crv, x, y)
    alg = jwk.get("alg")
    if alg is not None:
        registered = SIGNATURE_ALGORITHMS.get(alg) if isinstance(alg, str) else None
        if registered is None or registered is not algorithm_for_key(key):
            raise InvalidJwk("JWK alg disagrees with its key")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise InvalidJwk("JWK is not a signature key")
    return key


def _parse_key_members(kty: str, crv: str, x: str, y: str | None) -> PublicKey:
    try:
        if kty == "EC":
            size = _EC_SIZES.get(crv)
            if size is None or y is None:
                raise InvalidJwk("EC JWK needs crv P-256, P-384 or P-521 and y")
            xb, yb = b64url_decode(x), b64url_decode(y)
            if len(xb) != size or len(yb) != size:
                raise InvalidJwk("EC coordinates have the wrong length")
            try:
                return ec.EllipticCurvePublicKey.from_encoded_point(
                    ec_curve(crv), b"\x04" + xb + yb
                )
            except ValueError as exc:
                raise InvalidJwk("EC point is not on the curve") from exc
        if kty == "OKP" and crv == "Ed25519" and y is None:
            xb = b64url_decode(x)
            if len(xb) != 32:
                raise InvalidJwk("Ed25519 key has the wrong length")
            return ed25519.Ed25519PublicKey.from_public_bytes(xb)
    except EncodingError as exc:
        raise InvalidJwk("JWK coordinates are not base64url") from exc
    raise InvalidJwk(f"unsupported key type {kty}/{crv}")


_key_from_members = lru_cache(maxsize=4096)(_parse_key_members)


def public_jwk(key: PublicKey | PrivateKey) -> dict[str, str]:
    """The public JWK of a key, with only the members RFC 7638 requires."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        key = key.public_key()
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    crv = algorithm_for_key(key).curve
    size = _EC_SIZES[crv]
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": crv,
        "x": b64url_encode(numbers.x.to_bytes(size, "big")),
        "y": b64url_encode(numbers.y.to_bytes(size, "big")),
    }


_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 §3: SHA-256 over the required members in lexicographic order, base64url."""
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None:
        raise InvalidJwk("unsupported key type for a thumbprint")
    if not all(isinstance(jwk.get(m), str) for m in members):
        raise InvalidJwk("JWK lacks a required member")
    canonical = json_dumps({m: jwk[m] for m in members})
    return b64url_encode(hashlib.sha256(canonical.encode("utf-8")).digest())
