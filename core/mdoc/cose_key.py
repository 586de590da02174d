"""COSE_Key (RFC 9052 §7, RFC 9053 §7.1 and §7.2) to and from JWK (RFC 7517).

ISO/IEC 18013-5 §9.1.2.4 carries the holder's device key in the MSO as a COSE_Key
(``deviceKeyInfo.deviceKey``); the rest of idwallet speaks JWK. Only public keys on the
curves ``core.jose`` supports pass: EC2 on P-256, P-384, P-521 and OKP Ed25519. A key with
private material (``d``) is refused, and every EC point is checked to be on its curve
(through :func:`core.jose.jwk.public_key_from_jwk`). An EC2 key may carry its ``y`` as
the sign bit of a compressed point (RFC 9053 §7.1.1); it is decompressed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from core.encoding import b64url_decode, b64url_encode
from core.jose.algorithms import PublicKey, ec_curve
from core.jose.errors import InvalidJwk
from core.jose.jwk import public_jwk, public_key_from_jwk
from core.mdoc.errors import MalformedMdoc

# RFC 9052 §7.1 common parameters and RFC 9053 §7.1, §7.2 key type parameters.
KTY, KID, ALG = 1, 2, 3
CRV, X, Y, D = -1, -2, -3, -4
KTY_OKP, KTY_EC2 = 1, 2

#: RFC 9053 §7.1 Table 18: COSE Elliptic Curves, by their JWK ``crv``.
_EC2_CURVES = {"P-256": 1, "P-384": 2, "P-521": 3}
_OKP_CURVES = {"Ed25519": 6}
_SIZES = {"P-256": 32, "P-384": 48, "P-521": 66, "Ed25519": 32}
_CURVE_NAMES = {value: name for name, value in (_EC2_CURVES | _OKP_CURVES).items()}


def cose_key_from_jwk(jwk: Mapping[str, Any]) -> dict[int, Any]:
    """The COSE_Key of a public JWK (``kty``, ``crv``, ``x`` and, for EC2, ``y`` only).

    Raises :class:`core.jose.errors.InvalidJwk` for a JWK that is not a usable public key.
    """
    public_key_from_jwk(jwk)  # the whole validation: members, curve, point, no private part
    crv = jwk["crv"]
    if jwk["kty"] == "EC":
        return {
            KTY: KTY_EC2,
            CRV: _EC2_CURVES[crv],
            X: b64url_decode(jwk["x"]),
            Y: b64url_decode(jwk["y"]),
        }
    return {KTY: KTY_OKP, CRV: _OKP_CURVES[crv], X: b64url_decode(jwk["x"])}


def jwk_from_cose_key(cose_key: object, where: str = "COSE_Key") -> dict[str, str]:
    """The public JWK of a COSE_Key; :class:`MalformedMdoc` for one that is not usable."""
    if type(cose_key) is not dict:
        raise MalformedMdoc(f"{where} must be a map")
    if D in cose_key:
        raise MalformedMdoc(f"{where} contains private key material")
    kty, crv, x = cose_key.get(KTY), cose_key.get(CRV), cose_key.get(X)
    name = _CURVE_NAMES.get(crv) if type(crv) is int else None
    if name is None:
        raise MalformedMdoc(f"{where} has an unsupported curve {crv!r}")
    if type(x) is not bytes or len(x) != _SIZES[name]:
        raise MalformedMdoc(f"{where} x must be a byte string of {_SIZES[name]} bytes")
    if kty == KTY_OKP and name in _OKP_CURVES:
        jwk = {"kty": "OKP", "crv": name, "x": b64url_encode(x)}
    elif kty == KTY_EC2 and name in _EC2_CURVES:
        y = cose_key.get(Y)
        if type(y) is bool:
            jwk = _decompressed(name, x, y, where)
        elif type(y) is bytes and len(y) == _SIZES[name]:
            jwk = {"kty": "EC", "crv": name, "x": b64url_encode(x), "y": b64url_encode(y)}
        else:
            raise MalformedMdoc(f"{where} y must be a byte string of {_SIZES[name]} bytes")
    else:
        raise MalformedMdoc(f"{where} has key type {kty!r}, which does not fit curve {name}")
    try:
        public_key_from_jwk(jwk)
    except InvalidJwk as exc:
        raise MalformedMdoc(f"{where} is not a usable public key: {exc}") from exc
    return jwk


def public_key_from_cose_key(cose_key: object, where: str = "COSE_Key") -> PublicKey:
    """The public key of a COSE_Key (see :func:`jwk_from_cose_key`)."""
    return public_key_from_jwk(jwk_from_cose_key(cose_key, where))


def _decompressed(curve: str, x: bytes, y_odd: bool, where: str) -> dict[str, str]:
    prefix = b"\x03" if y_odd else b"\x02"
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec_curve(curve), prefix + x)
    except ValueError as exc:
        raise MalformedMdoc(f"{where} is not a point on {curve}") from exc
    return public_jwk(key)
