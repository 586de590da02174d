"""The recipient side of ``encrypt_compact`` (OpenID4VP 1.0 §8.3; RFC 7518 §4.6, §6.2.1):
a verifier's key as it publishes it (``kid``, ``use: enc``, ``alg: ECDH-ES``) is taken,
anything else that is not a public P-256 key for ECDH-ES is refused with a JOSE error,
never a ``TypeError``; and the bound a caller sets on the token and what a header may hold."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.encoding import b64url_decode, b64url_encode
from core.jose.errors import AlgorithmNotAllowed, InvalidJwk, JoseError, MalformedJose
from core.jose.jwe import decrypt_compact, encrypt_compact, encryption_public_key
from core.jose.jwk import public_jwk

KEY = ec.generate_private_key(ec.SECP256R1())
#: As a verifier publishes its key in ``client_metadata.jwks`` (§5.1, §8.3).
PUBLISHED = {**public_jwk(KEY), "kid": "enc-1", "use": "enc", "alg": "ECDH-ES"}


def test_a_published_verifier_key_is_encrypted_to() -> None:
    token = encrypt_compact(b'{"vp_token":{}}', PUBLISHED, enc="A256GCM", kid="enc-1")
    header, plaintext = decrypt_compact(token, KEY)
    assert plaintext == b'{"vp_token":{}}'
    assert (header["alg"], header["enc"], header["kid"]) == ("ECDH-ES", "A256GCM", "enc-1")
    assert encryption_public_key(PUBLISHED).public_numbers() == KEY.public_key().public_numbers()


def _flipped_y(jwk: dict[str, Any]) -> dict[str, Any]:
    y = bytearray(b64url_decode(jwk["y"]))
    y[-1] ^= 1
    return {**jwk, "y": b64url_encode(bytes(y))}


@pytest.mark.parametrize(
    ("jwk", "error"),
    [
        ({**PUBLISHED, "d": "AAAA"}, InvalidJwk),
        (
            {**public_jwk(ec.generate_private_key(ec.SECP384R1())), "alg": "ECDH-ES"},
            AlgorithmNotAllowed,
        ),
        ({"kty": "RSA", "n": "AQAB", "e": "AQAB", "alg": "RSA-OAEP-256"}, AlgorithmNotAllowed),
        ({"kty": "OKP", "crv": "X25519", "x": b64url_encode(bytes(32))}, AlgorithmNotAllowed),
        ({**PUBLISHED, "alg": "ECDH-ES+A128KW"}, AlgorithmNotAllowed),
        ({**PUBLISHED, "alg": ["ECDH-ES"]}, AlgorithmNotAllowed),
        ({**PUBLISHED, "use": "sig"}, InvalidJwk),
        (_flipped_y(PUBLISHED), InvalidJwk),
        ({**PUBLISHED, "x": 7}, InvalidJwk),
        (["not", "an", "object"], InvalidJwk),
    ],
    ids=[
        "private",
        "p384",
        "rsa",
        "x25519",
        "key-wrap",
        "alg-array",
        "signing",
        "off-curve",
        "x-not-text",
        "not-an-object",
    ],
)
def test_what_is_no_p256_ecdh_es_public_key_is_refused(jwk: Any, error: type[JoseError]) -> None:
    with pytest.raises(error):
        encryption_public_key(jwk)
    with pytest.raises(error):
        encrypt_compact(b"x", jwk)


def test_the_size_of_the_jwe_is_bounded_where_the_caller_asks() -> None:
    assert len(encrypt_compact(b"x" * 3000, PUBLISHED)) > 2000  # no bound unless asked
    assert len(encrypt_compact(b"x" * 1000, PUBLISHED, max_bytes=2000)) <= 2000
    with pytest.raises(MalformedJose, match="too large"):
        encrypt_compact(b"x" * 3000, PUBLISHED, max_bytes=2000)
    with pytest.raises(MalformedJose, match="longer than"):  # the header counts too
        encrypt_compact(b"x" * 1400, PUBLISHED, kid="k" * 200, max_bytes=2000)


@pytest.mark.parametrize(
    "arguments",
    [
        {"kid": 7},
        {"extra_header": {"zip": "DEF"}},
        {"extra_header": {"alg": "dir"}},
        {"extra_header": {"epk": PUBLISHED}},
    ],
    ids=["kid-not-text", "zip", "alg", "epk"],
)
def test_the_header_holds_only_what_the_encryption_decides(arguments: dict[str, Any]) -> None:
    with pytest.raises(MalformedJose):
        encrypt_compact(b"x", PUBLISHED, **arguments)


@pytest.mark.parametrize("member", ["alg", "enc"])
def test_a_header_algorithm_of_another_json_type_is_refused_not_a_crash(member: str) -> None:
    """An array where the algorithm's name belongs raised ``TypeError`` (unhashable) out of
    ``decrypt_compact``: a 500 at a verifier's response URI instead of ``invalid_request``."""
    token = encrypt_compact(b"x", PUBLISHED)
    protected, *rest = token.split(".")
    header = json.loads(b64url_decode(protected))
    header[member] = [header[member]]
    forged = ".".join([b64url_encode(json.dumps(header).encode()), *rest])
    with pytest.raises(AlgorithmNotAllowed):
        decrypt_compact(forged, KEY)
