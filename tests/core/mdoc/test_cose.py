"""COSE_Sign1 and COSE_Key (core.mdoc.cose_sign1, core.mdoc.cose_key), checked against
pycose as an independent COSE implementation where it helps."""

from __future__ import annotations

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pycose.keys import EC2Key
from pycose.messages import Sign1Message

from core.jose.errors import InvalidJwk
from core.jose.jwk import public_jwk, public_key_from_jwk
from core.keys.signer import SoftwareSigner
from core.mdoc.cbor import decode, encode
from core.mdoc.cose_key import cose_key_from_jwk, jwk_from_cose_key
from core.mdoc.cose_sign1 import (
    HEADER_X5CHAIN,
    CoseSign1,
    assemble_sign1,
    parse_cose_sign1,
    protected_header_bytes,
    sig_structure,
    sign1,
    verify_sign1,
    x5chain_certificates,
    x5chain_header,
)
from core.mdoc.errors import IssuerSignatureInvalid, MalformedMdoc
from tests.core.mdoc.pki import issuer


def _signer(curve: ec.EllipticCurve | None = None) -> SoftwareSigner:
    return SoftwareSigner(ec.generate_private_key(curve or ec.SECP256R1()))


def _round_trip(message: CoseSign1) -> CoseSign1:
    return parse_cose_sign1(decode(encode(message.to_cbor())), "message")


def test_sign_and_verify() -> None:
    signer = _signer()
    message = _round_trip(sign1(b"payload", signer))
    key = public_key_from_jwk(signer.public_jwk())
    assert verify_sign1(message, key, algorithms={-7}, error=IssuerSignatureInvalid) == -7
    assert message.protected == bytes.fromhex("a10126")


def test_pycose_verifies_what_we_sign() -> None:
    signer = _signer()
    message = sign1(b"payload", signer)
    # pycose's own decode() trips over cbor2 6's decoded types; it reads the array as
    # cbor2 gives it back, as pymdoccbor feeds it.
    cose = Sign1Message.from_cose_obj(list(cbor2.loads(encode(message.to_cbor()))), True)
    jwk = signer.public_jwk()
    cose.key = EC2Key.from_dict(cose_key_from_jwk(jwk))
    assert cose.verify_signature()


def test_detached_payload() -> None:
    signer = _signer()
    message = _round_trip(sign1(b"detached", signer, detached=True))
    assert message.payload is None
    key = public_key_from_jwk(signer.public_jwk())
    verify_sign1(
        message, key, algorithms={-7}, error=IssuerSignatureInvalid, detached_payload=b"detached"
    )
    with pytest.raises(IssuerSignatureInvalid, match="does not verify"):
        verify_sign1(
            message, key, algorithms={-7}, error=IssuerSignatureInvalid, detached_payload=b"other"
        )
    with pytest.raises(IssuerSignatureInvalid, match="detached but none"):
        verify_sign1(message, key, algorithms={-7}, error=IssuerSignatureInvalid)


def test_split_signing_with_a_raw_signature() -> None:
    signer = _signer()
    protected = protected_header_bytes(-7)
    to_be_signed = sig_structure(protected, b"payload")
    # RFC 9052 §4.4: the Sig_structure is ["Signature1", protected, h'', payload].
    assert decode(to_be_signed) == ["Signature1", protected, b"", b"payload"]
    message = assemble_sign1(protected, signer.sign(to_be_signed), payload=b"payload")
    verify_sign1(
        _round_trip(message),
        public_key_from_jwk(signer.public_jwk()),
        algorithms={-7},
        error=IssuerSignatureInvalid,
    )


def test_algorithm_outside_the_allow_list() -> None:
    signer = _signer(ec.SECP384R1())
    message = sign1(b"payload", signer)
    assert message.alg == -35
    with pytest.raises(IssuerSignatureInvalid, match="-35 is not allowed"):
        verify_sign1(
            message,
            public_key_from_jwk(signer.public_jwk()),
            algorithms={-7, -9},
            error=IssuerSignatureInvalid,
        )


def test_fully_specified_esp256_is_accepted() -> None:
    signer = _signer()
    protected = protected_header_bytes(-9)
    message = assemble_sign1(protected, signer.sign(sig_structure(protected, b"p")), payload=b"p")
    key = public_key_from_jwk(signer.public_jwk())
    assert verify_sign1(message, key, algorithms={-9}, error=IssuerSignatureInvalid) == -9


def test_es256_with_a_key_on_another_curve_is_refused() -> None:
    signer = _signer()
    message = sign1(b"payload", signer)
    other = public_key_from_jwk(_signer(ec.SECP384R1()).public_jwk())
    with pytest.raises(IssuerSignatureInvalid, match="does not verify"):
        verify_sign1(message, other, algorithms={-7}, error=IssuerSignatureInvalid)


def test_alg_in_the_unprotected_header_is_refused() -> None:
    signer = _signer()
    message = sign1(b"payload", signer)
    moved = CoseSign1(b"", {}, {1: -7}, message.payload, message.signature)
    with pytest.raises(IssuerSignatureInvalid, match="protected header"):
        verify_sign1(
            moved,
            public_key_from_jwk(signer.public_jwk()),
            algorithms={-7},
            error=IssuerSignatureInvalid,
        )


def test_tampered_payload_or_signature() -> None:
    signer = _signer()
    message = sign1(b"payload", signer)
    key = public_key_from_jwk(signer.public_jwk())
    for tampered in (
        CoseSign1(message.protected, {1: -7}, {}, b"paylOad", message.signature),
        CoseSign1(message.protected, {1: -7}, {}, b"payload", message.signature[:-1] + b"\0"),
        CoseSign1(message.protected, {1: -7}, {}, b"payload", message.signature[:10]),
    ):
        with pytest.raises(IssuerSignatureInvalid):
            verify_sign1(tampered, key, algorithms={-7}, error=IssuerSignatureInvalid)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([b"", {}, b""], "four items"),
        ("not an array", "four items"),
        (["a0", {}, b"", b""], "protected header must be a byte string"),
        ([b"", {"x": 1}, b"", b""], "integer labels"),
        ([b"", {}, 1, b""], "payload"),
        ([b"", {}, b"", "sig"], "signature"),
        ([bytes.fromhex("a10126"), {1: -7}, b"", b""], "both buckets"),
        ([bytes.fromhex("a1 02 81 01"), {}, b"", b""], "critical"),
        ([b"\xff", {}, b"", b""], "not CBOR"),
        ([bytes.fromhex("80"), {}, b"", b""], "map with integer labels"),
    ],
)
def test_malformed_cose_sign1(value: object, message: str) -> None:
    with pytest.raises(MalformedMdoc, match=message):
        parse_cose_sign1(value, "message")


def test_x5chain_one_certificate_or_an_array() -> None:
    parties = issuer()
    x5c = parties.signer.x5c
    assert x5c is not None
    single = sign1(b"p", parties.signer, unprotected={HEADER_X5CHAIN: x5chain_header(x5c)})
    assert isinstance(single.unprotected_header[HEADER_X5CHAIN], bytes)
    assert x5chain_certificates(single, "m") == [parties.certificate]
    double = sign1(b"p", parties.signer, unprotected={HEADER_X5CHAIN: x5chain_header(x5c * 2)})
    assert x5chain_certificates(double, "m") == [parties.certificate] * 2


@pytest.mark.parametrize(
    ("x5chain", "message"),
    [(None, "no x5chain"), ([], "array of up to"), ([b"\x30\x00"], "not DER"), ("x", "array")],
)
def test_malformed_x5chain(x5chain: object, message: str) -> None:
    unprotected = {} if x5chain is None else {HEADER_X5CHAIN: x5chain}
    with pytest.raises(MalformedMdoc, match=message):
        x5chain_certificates(CoseSign1(b"", {}, unprotected, b"", b""), "m")


@pytest.mark.parametrize(
    "key",
    [
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        ec.generate_private_key(ec.SECP521R1()),
        ed25519.Ed25519PrivateKey.generate(),
    ],
)
def test_cose_key_and_jwk_round_trip(key: ec.EllipticCurvePrivateKey) -> None:
    jwk = public_jwk(key)
    cose_key = cose_key_from_jwk(jwk)
    assert jwk_from_cose_key(decode(encode(cose_key))) == jwk


def test_cose_key_of_a_p256_jwk_is_rfc_9053_ec2() -> None:
    jwk = public_jwk(ec.generate_private_key(ec.SECP256R1()))
    cose_key = cose_key_from_jwk(jwk)
    assert cose_key[1] == 2 and cose_key[-1] == 1
    assert len(cose_key[-2]) == len(cose_key[-3]) == 32
    # pycose reads the same key.
    assert EC2Key.from_dict(cose_key).crv.fullname == "P_256"


def test_compressed_ec2_point_is_decompressed() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = public_jwk(key)
    cose_key = cose_key_from_jwk(jwk)
    y_odd = key.public_key().public_numbers().y % 2 == 1
    assert jwk_from_cose_key({1: 2, -1: 1, -2: cose_key[-2], -3: y_odd}) == jwk


@pytest.mark.parametrize(
    ("cose_key", "message"),
    [
        ("key", "must be a map"),
        ({1: 2, -1: 1, -2: b"\0" * 32, -3: b"\0" * 32, -4: b"\0" * 32}, "private"),
        ({1: 2, -1: 8, -2: b"\0" * 32, -3: b"\0" * 32}, "unsupported curve"),
        ({1: 2, -1: 1, -2: b"\0" * 31, -3: b"\0" * 32}, "32 bytes"),
        ({1: 2, -1: 1, -2: b"\0" * 32, -3: b"\0" * 31}, "32 bytes"),
        ({1: 2, -1: 1, -2: b"\0" * 32, -3: b"\1" * 32}, "not a usable public key"),
        ({1: 1, -1: 1, -2: b"\0" * 32, -3: b"\0" * 32}, "does not fit"),
        ({1: 3, -1: 6, -2: b"\0" * 32}, "does not fit"),
    ],
)
def test_unusable_cose_keys(cose_key: object, message: str) -> None:
    with pytest.raises(MalformedMdoc, match=message):
        jwk_from_cose_key(cose_key)


def test_cose_key_from_a_private_jwk_is_refused() -> None:
    jwk = dict(public_jwk(ec.generate_private_key(ec.SECP256R1())), d="AAAA")
    with pytest.raises(InvalidJwk):
        cose_key_from_jwk(jwk)
