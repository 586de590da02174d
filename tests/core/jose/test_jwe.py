"""JWE ECDH-ES with A128GCM/A256GCM, including the OpenID4VP 1.0 §8.3 vector."""

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.encoding import b64url_decode, b64url_encode
from core.jose.errors import AlgorithmNotAllowed, DecryptionFailed, MalformedJose
from core.jose.jwe import decrypt_compact, encrypt_compact
from core.jose.jwk import public_jwk

VECTORS = Path(__file__).parents[2] / "vectors"


@pytest.mark.parametrize("enc", ["A128GCM", "A256GCM"])
def test_round_trip(enc: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = encrypt_compact(b'{"vp_token":{}}', public_jwk(key), enc=enc, kid="k1")
    header, plaintext = decrypt_compact(token, key)
    assert plaintext == b'{"vp_token":{}}'
    assert header["enc"] == enc and header["alg"] == "ECDH-ES" and header["kid"] == "k1"


def test_openid4vp_section_8_3_vector_decrypts() -> None:
    vector = json.loads((VECTORS / "openid4vp" / "encrypted_response.json").read_text())
    jwk = vector["private_jwk"]
    d = int.from_bytes(b64url_decode(jwk["d"]), "big")
    key = ec.derive_private_key(d, ec.SECP256R1())
    assert public_jwk(key)["x"] == jwk["x"]
    _, plaintext = decrypt_compact(vector["jwe"], key)
    assert json.loads(plaintext) == vector["plaintext"]


def test_wrong_key_fails_cleanly() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = encrypt_compact(b"x", public_jwk(key))
    with pytest.raises(DecryptionFailed):
        decrypt_compact(token, ec.generate_private_key(ec.SECP256R1()))


def _with_header(token: str, **changes: object) -> str:
    parts = token.split(".")
    header = json.loads(b64url_decode(parts[0]))
    header.update(changes)
    parts[0] = b64url_encode(json.dumps(header).encode())
    return ".".join(parts)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"alg": "RSA-OAEP"}, AlgorithmNotAllowed),
        ({"alg": "dir"}, AlgorithmNotAllowed),
        ({"enc": "A128CBC-HS256"}, AlgorithmNotAllowed),
        ({"zip": "DEF"}, MalformedJose),
        ({"epk": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}}, MalformedJose),
    ],
)
def test_header_is_checked_before_decryption(
    changes: dict[str, object], error: type[Exception]
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = encrypt_compact(b"x", public_jwk(key))
    with pytest.raises(error):
        decrypt_compact(_with_header(token, **changes), key)


def test_oversized_and_malformed_tokens() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(MalformedJose):
        decrypt_compact("a" * 300_000, key)
    with pytest.raises(MalformedJose):
        decrypt_compact("a.b.c", key)


def test_encrypt_refuses_non_p256_recipients() -> None:
    with pytest.raises(AlgorithmNotAllowed):
        encrypt_compact(b"x", public_jwk(ec.generate_private_key(ec.SECP384R1())))
    with pytest.raises(AlgorithmNotAllowed):
        encrypt_compact(b"x", public_jwk(ec.generate_private_key(ec.SECP256R1())), enc="A192GCM")
