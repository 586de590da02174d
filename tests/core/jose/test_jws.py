"""Compact JWS: allow-lists, typ, crit, size limits, strict headers (J01, J03, J06, J07)."""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from core.encoding import b64url_decode, b64url_encode
from core.jose.errors import (
    AlgorithmNotAllowed,
    InvalidJwk,
    InvalidSignature,
    MalformedJose,
    UnexpectedType,
    UnsupportedCritical,
)
from core.jose.jws import sign_compact, verify_compact
from core.keys.signer import SoftwareSigner


@pytest.fixture(scope="module")
def signer() -> SoftwareSigner:
    return SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))


def _forge(header: dict[str, object], payload: dict[str, object], signature: bytes = b"") -> str:
    h = b64url_encode(json.dumps(header).encode())
    p = b64url_encode(json.dumps(payload).encode())
    return f"{h}.{p}.{b64url_encode(signature)}"


def _public(signer: SoftwareSigner) -> ec.EllipticCurvePublicKey:
    key = signer._key.public_key()  # test-only access to the key behind the signer
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def test_sign_and_verify(signer: SoftwareSigner) -> None:
    token = sign_compact({"a": 1}, signer, typ="example+jwt")
    verified = verify_compact(token, _public(signer), algorithms={"ES256"}, typ="example+jwt")
    assert verified.payload == {"a": 1}
    assert verified.header == {"alg": "ES256", "typ": "example+jwt", "kid": signer.kid}


@pytest.mark.parametrize(
    ("key", "alg"),
    [(ec.SECP384R1(), "ES384"), (ec.SECP521R1(), "ES512"), (None, "EdDSA")],
)
def test_optional_algorithms(key: ec.EllipticCurve | None, alg: str) -> None:
    private = ed25519.Ed25519PrivateKey.generate() if key is None else ec.generate_private_key(key)
    signer = SoftwareSigner(private)
    token = sign_compact({"a": 1}, signer, typ="x")
    verified = verify_compact(token, private.public_key(), algorithms={alg}, typ="x")
    assert verified.header["alg"] == alg
    with pytest.raises(AlgorithmNotAllowed):
        verify_compact(token, private.public_key(), algorithms={"ES256"}, typ="x")


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "PS256", "ES256K", None, 1])
def test_algorithms_outside_the_registry_are_never_accepted(
    signer: SoftwareSigner, alg: object
) -> None:
    token = _forge({"alg": alg, "typ": "x"}, {"a": 1}, b"\x00" * 64)
    with pytest.raises(AlgorithmNotAllowed):
        verify_compact(token, _public(signer), algorithms={"ES256", str(alg)}, typ="x")


def test_hs256_with_the_public_key_as_secret_is_refused(signer: SoftwareSigner) -> None:
    import hashlib
    import hmac

    secret = json.dumps(signer.public_jwk()).encode()
    unsigned = _forge({"alg": "HS256", "typ": "x"}, {"a": 1}).rsplit(".", 1)[0]
    mac = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    with pytest.raises(AlgorithmNotAllowed):
        verify_compact(
            f"{unsigned}.{b64url_encode(mac)}", _public(signer), algorithms={"ES256"}, typ="x"
        )


def test_j01_all_zero_ecdsa_signature_is_refused(signer: SoftwareSigner) -> None:
    token = _forge({"alg": "ES256", "typ": "x"}, {"a": 1}, b"\x00" * 64)
    with pytest.raises(InvalidSignature):
        verify_compact(token, _public(signer), algorithms={"ES256"}, typ="x")


def test_flipped_signature_and_wrong_length_are_refused(signer: SoftwareSigner) -> None:
    token = sign_compact({"a": 1}, signer, typ="x")
    head, body, sig = token.split(".")
    raw = bytearray(b64url_decode(sig))
    raw[5] ^= 1
    with pytest.raises(InvalidSignature):
        verify_compact(
            f"{head}.{body}.{b64url_encode(bytes(raw))}",
            _public(signer),
            algorithms={"ES256"},
            typ="x",
        )
    with pytest.raises(InvalidSignature):
        verify_compact(
            f"{head}.{body}.{b64url_encode(bytes(raw[:63]))}",
            _public(signer),
            algorithms={"ES256"},
            typ="x",
        )


def test_key_of_the_wrong_curve_is_refused(signer: SoftwareSigner) -> None:
    token = sign_compact({"a": 1}, signer, typ="x")
    other = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(InvalidJwk):
        verify_compact(token, other, algorithms={"ES256"}, typ="x")


@pytest.mark.parametrize("typ", [None, "JWT", "kb+jwt", "other+jwt"])
def test_typ_must_be_the_expected_one(signer: SoftwareSigner, typ: str | None) -> None:
    token = sign_compact({"a": 1}, signer, typ=typ)
    with pytest.raises(UnexpectedType):
        verify_compact(token, _public(signer), algorithms={"ES256"}, typ="statuslist+jwt")


def test_typ_compares_as_a_media_type(signer: SoftwareSigner) -> None:
    token = sign_compact({"a": 1}, signer, typ="application/StatusList+JWT")
    verify_compact(token, _public(signer), algorithms={"ES256"}, typ="statuslist+jwt")


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ({"crit": ["exp"], "exp": 1}, UnsupportedCritical),
        ({"crit": []}, MalformedJose),
        ({"crit": ["alg"]}, MalformedJose),
        ({"crit": "exp"}, MalformedJose),
        ({"crit": ["b64", "b64"], "b64": True}, MalformedJose),
        ({"b64": False}, UnsupportedCritical),
    ],
)
def test_crit_handling(
    signer: SoftwareSigner, header: dict[str, object], error: type[Exception]
) -> None:
    token = sign_compact({"a": 1}, signer, typ="x", header=header)
    with pytest.raises(error):
        verify_compact(token, _public(signer), algorithms={"ES256"}, typ="x")


def test_understood_crit_extension_is_accepted(signer: SoftwareSigner) -> None:
    token = sign_compact({"a": 1}, signer, typ="x", header={"crit": ["ext"], "ext": 1})
    verify_compact(token, _public(signer), algorithms={"ES256"}, typ="x", understood_crit={"ext"})


def test_j06_duplicate_header_members_are_refused(signer: SoftwareSigner) -> None:
    header = '{"alg":"ES256","typ":"x","typ":"y"}'
    signing_input = f"{b64url_encode(header.encode())}.{b64url_encode(b'{}')}"
    token = f"{signing_input}.{b64url_encode(signer.sign(signing_input.encode()))}"
    with pytest.raises(MalformedJose):
        verify_compact(token, _public(signer), algorithms={"ES256"}, typ="x")


def test_j06_duplicate_payload_members_are_refused_after_the_signature(
    signer: SoftwareSigner,
) -> None:
    token = sign_compact(b'{"nonce":"a","nonce":"b"}', signer, typ="x")
    with pytest.raises(MalformedJose):
        verify_compact(token, _public(signer), algorithms={"ES256"}, typ="x")


def test_j07_size_limit_applies_before_parsing(signer: SoftwareSigner) -> None:
    token = "a" * (5 * 1024 * 1024)
    with pytest.raises(MalformedJose, match="larger"):
        verify_compact(token, _public(signer), algorithms={"ES256"}, typ="x")


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "!!.e30.", "e30.e30.e30=", 5])
def test_malformed_structure(signer: SoftwareSigner, token: object) -> None:
    with pytest.raises(MalformedJose):
        verify_compact(token, _public(signer), algorithms={"ES256"}, typ=None)  # type: ignore[arg-type]


def test_j03_header_key_material_does_not_choose_the_key(signer: SoftwareSigner) -> None:
    attacker = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
    token = sign_compact(
        {"a": 1},
        attacker,
        typ="x",
        header={
            "jwk": attacker.public_jwk(),
            "jku": "https://evil.example/jwks",
            "kid": "../../dev/null",
        },
    )
    with pytest.raises(InvalidSignature):
        verify_compact(token, _public(signer), algorithms={"ES256"}, typ="x")


def test_non_object_payload_is_refused(signer: SoftwareSigner) -> None:
    token = sign_compact(b"[1,2]", signer, typ="x")
    with pytest.raises(MalformedJose):
        verify_compact(token, _public(signer), algorithms={"ES256"}, typ="x")
