import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from core.encoding import b64url_encode
from core.jose.errors import InvalidJwk
from core.jose.jwk import jwk_thumbprint, public_jwk, public_key_from_jwk


def test_rfc7638_section_3_1_example_thumbprint() -> None:
    # RFC 7638 §3.1 uses an RSA key; the algorithm is the same for EC, checked with the
    # DPoP draft §6.1 vector (shared/specs/dpop-draft-16.md).
    jwk = {
        "kty": "EC",
        "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
        "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
        "crv": "P-256",
    }
    assert jwk_thumbprint(jwk) == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()])
def test_ec_round_trip(curve: ec.EllipticCurve) -> None:
    key = ec.generate_private_key(curve)
    jwk = public_jwk(key)
    assert "d" not in jwk
    assert public_key_from_jwk(jwk).public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]


def test_ed25519_round_trip() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    jwk = public_jwk(key)
    assert jwk["kty"] == "OKP"
    assert isinstance(public_key_from_jwk(jwk), ed25519.Ed25519PublicKey)


def _p256() -> dict[str, str]:
    return public_jwk(ec.generate_private_key(ec.SECP256R1()))


def test_private_members_are_refused() -> None:
    jwk = {**_p256(), "d": "AAAA"}
    with pytest.raises(InvalidJwk, match="private"):
        public_key_from_jwk(jwk)


def test_point_off_the_curve_is_refused() -> None:
    jwk = _p256()
    jwk["y"] = b64url_encode((int.from_bytes(b"\x01" * 32, "big")).to_bytes(32, "big"))
    with pytest.raises(InvalidJwk, match="curve"):
        public_key_from_jwk(jwk)


@pytest.mark.parametrize(
    "change",
    [
        {"alg": "ES384"},  # P-256 key claiming ES384
        {"alg": "HS256"},
        {"crv": "P-384"},  # coordinates of the wrong length
        {"kty": "RSA"},
        {"x": 12},
        {"use": "enc"},
        {"x": "not base64url!"},
    ],
)
def test_inconsistent_or_unsupported_jwks_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(InvalidJwk):
        public_key_from_jwk({**_p256(), **change})


def test_non_object_jwk_is_refused() -> None:
    with pytest.raises(InvalidJwk):
        public_key_from_jwk(["kty", "EC"])
