"""The per-transaction response encryption key (OpenID4VP 1.0 §8.3): an ECDH-ES P-256
key pair derived from the deployment secret and the request id, so every transaction has
its own key, no private key is ever stored, and any worker can decrypt the answer."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.asymmetric import ec

from core.jose.jwk import public_jwk

#: Order of the P-256 group.
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
CONTENT_ENCRYPTIONS = ("A128GCM", "A256GCM")


def response_private_key(secret: bytes, request_id: str) -> ec.EllipticCurvePrivateKey:
    seed = hmac.new(secret, b"idwallet response key\x00" + request_id.encode(), hashlib.sha512)
    scalar = int.from_bytes(seed.digest(), "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def response_key_id(request_id: str) -> str:
    return "enc-" + hashlib.sha256(request_id.encode()).hexdigest()[:16]


def response_public_jwk(secret: bytes, request_id: str) -> dict[str, str]:
    jwk = dict(public_jwk(response_private_key(secret, request_id).public_key()))
    jwk.update({"use": "enc", "alg": "ECDH-ES", "kid": response_key_id(request_id)})
    return jwk
