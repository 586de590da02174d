"""DPoP proofs built for the tests: any header and claims, signed by a key the test holds
(so each rule of RFC 9449 §4.3 can be broken on its own), and a ``SeenOnce`` in memory."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from core.encoding import b64url_encode, json_dumps_bytes
from core.jose.algorithms import SIGNATURE_ALGORITHMS, PrivateKey, algorithm_for_key
from core.jose.jwk import public_jwk

URI = "https://issuer.example.org/issuers/civil-registry/credential"
TOKEN_URI = "https://issuer.example.org/issuers/civil-registry/token"
NOW = 1_800_000_000


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def encode_jws(header: dict[str, Any] | bytes, claims: dict[str, Any] | bytes, sign: Any) -> str:
    encoded_header = b64url_encode(
        header if isinstance(header, bytes) else json_dumps_bytes(header)
    )
    encoded_claims = b64url_encode(
        claims if isinstance(claims, bytes) else json_dumps_bytes(claims)
    )
    signing_input = f"{encoded_header}.{encoded_claims}"
    return f"{signing_input}.{b64url_encode(sign(signing_input.encode('ascii')))}"


def make_proof(
    key: PrivateKey,
    *,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    without: tuple[str, ...] = (),
    jti: str = "proof-1-2Hq9Xw0d",
    htm: str = "POST",
    htu: str = URI,
    iat: float = NOW,
) -> str:
    """A proof signed with ``key`` by the algorithm of its curve; ``header`` and ``claims``
    add or replace members, ``without`` removes claims."""
    alg = algorithm_for_key(key)
    protected: dict[str, Any] = {"typ": "dpop+jwt", "alg": alg.name, "jwk": public_jwk(key)}
    protected.update(header or {})
    payload: dict[str, Any] = {"jti": jti, "htm": htm, "htu": htu, "iat": iat}
    payload.update(claims or {})
    for name in without:
        payload.pop(name)
    return encode_jws(protected, payload, lambda data: alg.sign(key, data))


def sign_with_alg(key: PrivateKey, alg: str, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """Signed with the named algorithm whatever the key (the curve may disagree)."""
    return encode_jws(header, claims, lambda data: SIGNATURE_ALGORITHMS[alg].sign(key, data))


def hmac_signed(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    return encode_jws(header, claims, lambda data: hmac.new(secret, data, hashlib.sha256).digest())


class MemorySeenOnce:
    """``SeenOnce`` in a dict, recording what it was asked to keep and until when."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], float] = {}

    async def first_use(self, scope: str, value: str, keep_until: float) -> bool:
        if (scope, value) in self.kept:
            return False
        self.kept[(scope, value)] = keep_until
        return True
