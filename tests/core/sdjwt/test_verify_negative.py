"""Every verify path refuses what RFC 9901 §7 says to refuse (SECURITY-CASES V03–V12)."""

from __future__ import annotations

import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.encoding import b64url_decode, b64url_encode
from core.jose.jwk import _key_from_members
from core.keys.signer import SoftwareSigner
from core.sdjwt.errors import (
    ClaimCollision,
    DuplicateDigest,
    ExpiredOrNotYetValid,
    InvalidDisclosure,
    InvalidSdStructure,
    IssuerSignatureInvalid,
    KeyBindingInvalid,
    KeyBindingMissing,
    MalformedSdJwt,
    SdJwtError,
    UnreferencedDisclosure,
    UnsupportedHashAlgorithm,
)
from core.sdjwt.key_binding import KB_JWT_TYP
from core.sdjwt.verify import KeyBindingPolicy, verify_sd_jwt
from tests.core.sdjwt.forge import (
    AUDIENCE,
    HOLDER,
    NONCE,
    d,
    encode_disclosure,
    issuer_public_key,
    sd_jwt,
    signed,
    with_key_binding,
)

POLICY = KeyBindingPolicy(audience=AUDIENCE, nonce=NONCE)
GIVEN = encode_disclosure("c2FsdHNhbHRzYWx0c2FsdA", "given_name", "Erika")
FAMILY = encode_disclosure("b3RoZXJzYWx0b3RoZXJzYQ", "family_name", "Mustermann")


def verify(text: str, policy: KeyBindingPolicy | None = POLICY) -> dict[str, object]:
    return verify_sd_jwt(
        text, issuer_key=issuer_public_key(), typ="dc+sd-jwt", key_binding=policy
    ).claims


def good() -> str:
    return with_key_binding(sd_jwt({"_sd": [d(GIVEN), d(FAMILY)], "vct": "urn:x"}, [GIVEN, FAMILY]))


def test_the_baseline_verifies() -> None:
    claims = verify(good())
    assert claims["given_name"] == "Erika" and claims["family_name"] == "Mustermann"


# V03: the KB-JWT itself
def _replace_kb(
    text: str,
    header: dict[str, object] | None = None,
    payload: dict[str, object] | None = None,
    signer: SoftwareSigner = HOLDER,
) -> str:
    prefix, kb = text.rsplit("~", 1)
    h, p, _ = kb.split(".")
    header = header if header is not None else json.loads(b64url_decode(h))
    payload = payload if payload is not None else json.loads(b64url_decode(p))
    encoded_header = b64url_encode(json.dumps(header).encode())
    signing_input = f"{encoded_header}.{b64url_encode(json.dumps(payload).encode())}"
    return f"{prefix}~{signing_input}.{b64url_encode(signer.sign(signing_input.encode()))}"


def _kb_payload(text: str) -> dict[str, object]:
    result: dict[str, object] = json.loads(b64url_decode(text.rsplit("~", 1)[1].split(".")[1]))
    return result


def test_v03_corrupted_kb_signature() -> None:
    text = good()
    raw = bytearray(b64url_decode(text.rsplit(".", 1)[1]))
    raw[0] ^= 0xFF
    with pytest.raises(KeyBindingInvalid):
        verify(text.rsplit(".", 1)[0] + "." + b64url_encode(bytes(raw)))


def test_v03_kb_signed_by_another_key() -> None:
    other = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(KeyBindingInvalid):
        verify(_replace_kb(good(), signer=other))


@pytest.mark.parametrize("typ", ["JWT", "kb+JWT2", None, "dc+sd-jwt"])
def test_v03_kb_typ(typ: str | None) -> None:
    header: dict[str, object] = {"alg": "ES256"}
    if typ is not None:
        header["typ"] = typ
    with pytest.raises(KeyBindingInvalid):
        verify(_replace_kb(good(), header=header))


def test_v03_kb_alg_none() -> None:
    text = good()
    prefix, kb = text.rsplit("~", 1)
    _, p, _ = kb.split(".")
    none_header = b64url_encode(json.dumps({"alg": "none", "typ": KB_JWT_TYP}).encode())
    with pytest.raises(KeyBindingInvalid):
        verify(f"{prefix}~{none_header}.{p}.")


# V04: the issuer signature
def test_v04_corrupted_issuer_signature() -> None:
    text = good()
    jwt, rest = text.split("~", 1)
    h, p, s = jwt.split(".")
    raw = bytearray(b64url_decode(s))
    raw[10] ^= 1
    with pytest.raises(IssuerSignatureInvalid):
        verify(f"{h}.{p}.{b64url_encode(bytes(raw))}~{rest}")


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_v04_issuer_alg_none_or_hmac(alg: str) -> None:
    text = good()
    jwt, rest = text.split("~", 1)
    _, p, s = jwt.split(".")
    header = b64url_encode(json.dumps({"alg": alg, "typ": "dc+sd-jwt"}).encode())
    with pytest.raises(IssuerSignatureInvalid):
        verify(f"{header}.{p}.{s}~{rest}")


def test_wrong_issuer_typ() -> None:
    text = with_key_binding(sd_jwt({"_sd": [d(GIVEN)]}, [GIVEN], typ="JWT"))
    with pytest.raises(IssuerSignatureInvalid):
        verify(text)


# V05: sd_hash binds the exact presentation
def test_v05_disclosure_dropped_after_key_binding() -> None:
    text = good()
    jwt, given, _family, kb = text.split("~")
    with pytest.raises(KeyBindingInvalid, match="sd_hash"):
        verify(f"{jwt}~{given}~{kb}")


def test_v05_disclosure_added_after_key_binding() -> None:
    base = sd_jwt({"_sd": [d(GIVEN), d(FAMILY)]}, [GIVEN])
    text = with_key_binding(base)
    jwt, given, kb = text.split("~")
    with pytest.raises(KeyBindingInvalid, match="sd_hash"):
        verify(f"{jwt}~{given}~{FAMILY}~{kb}")


def test_v05_sd_hash_without_trailing_tilde() -> None:
    import hashlib

    base = sd_jwt({"_sd": [d(GIVEN)]}, [GIVEN])
    text = with_key_binding(base)
    payload = _kb_payload(text)
    payload["sd_hash"] = b64url_encode(hashlib.sha256(base[:-1].encode()).digest())
    with pytest.raises(KeyBindingInvalid, match="sd_hash"):
        verify(_replace_kb(text, payload=payload))


# V06: iat window
@pytest.mark.parametrize("offset", [-365 * 86400, 365 * 86400, -600, 120])
def test_v06_kb_iat_outside_the_window(offset: int) -> None:
    base = sd_jwt({"_sd": [d(GIVEN)]}, [GIVEN])
    with pytest.raises(KeyBindingInvalid, match="iat"):
        verify(with_key_binding(base, iat=int(time.time()) + offset))


@pytest.mark.parametrize("offset", [-240, 30])
def test_v06_kb_iat_just_inside_the_window(offset: int) -> None:
    base = sd_jwt({"_sd": [d(GIVEN)]}, [GIVEN])
    assert verify(with_key_binding(base, iat=int(time.time()) + offset))["given_name"] == "Erika"


@pytest.mark.parametrize("iat", ["1700000000", True, 1e300, None, [1]])
def test_kb_iat_of_the_wrong_type(iat: object) -> None:
    text = good()
    payload = _kb_payload(text)
    payload["iat"] = iat
    with pytest.raises(KeyBindingInvalid):
        verify(_replace_kb(text, payload=payload))


@pytest.mark.parametrize(
    ("claim", "value"),
    [("aud", "https://verifier.example"), ("aud", [AUDIENCE]), ("nonce", "other"), ("nonce", None)],
)
def test_v01_v02_kb_nonce_and_aud(claim: str, value: object) -> None:
    text = good()
    payload = _kb_payload(text)
    payload[claim] = value
    with pytest.raises(KeyBindingInvalid):
        verify(_replace_kb(text, payload=payload))


# V07: key binding stripped
def test_v07_stripped_key_binding() -> None:
    text = good()
    with pytest.raises(KeyBindingMissing):
        verify(text.rsplit("~", 1)[0] + "~")


def test_kb_requires_a_holder_key() -> None:
    from core.jose.jws import sign_compact
    from tests.core.sdjwt.forge import ISSUER

    jwt = sign_compact({"_sd": [d(GIVEN)]}, ISSUER, typ="dc+sd-jwt")
    with pytest.raises(KeyBindingInvalid, match="cnf"):
        verify(with_key_binding(f"{jwt}~{GIVEN}~"))


# V08: duplicates
def test_v08_same_disclosure_twice() -> None:
    with pytest.raises(DuplicateDigest):
        verify(sd_jwt({"_sd": [d(GIVEN)]}, [GIVEN, GIVEN]), None)


def test_v08_same_digest_twice_in_sd() -> None:
    with pytest.raises(DuplicateDigest):
        verify(sd_jwt({"_sd": [d(GIVEN), d(GIVEN)]}, [GIVEN]), None)


def test_v08_undisclosed_digest_twice() -> None:
    with pytest.raises(DuplicateDigest):
        verify(sd_jwt({"_sd": [d(GIVEN), d(GIVEN)]}, []), None)


def test_v08_digest_in_sd_and_in_an_array() -> None:
    element = encode_disclosure("c2FsdA", "DE")
    with pytest.raises(DuplicateDigest):
        verify(sd_jwt({"_sd": [d(element)], "nationalities": [{"...": d(element)}]}, []), None)


# V09: unreferenced disclosure
def test_v09_unreferenced_disclosure() -> None:
    stranger = encode_disclosure("c29tZW90aGVyY3JlZA", "is_over_18", True)
    with pytest.raises(UnreferencedDisclosure):
        verify(sd_jwt({"_sd": [d(GIVEN)]}, [GIVEN, stranger]), None)


# V10: names
@pytest.mark.parametrize("name", ["_sd", "..."])
def test_v10_reserved_disclosure_names(name: str) -> None:
    bad = encode_disclosure("c2FsdA", name, ["x"])
    with pytest.raises(InvalidDisclosure):
        verify(sd_jwt({"_sd": [d(bad)]}, [bad]), None)


@pytest.mark.parametrize("name", ["iss", "vct", "cnf"])
def test_v10_disclosure_colliding_with_a_plain_claim(name: str) -> None:
    bad = encode_disclosure("c2FsdA", name, "https://evil.example")
    with pytest.raises(ClaimCollision):
        verify(
            sd_jwt({"_sd": [d(bad)], "iss": "https://issuer.example", "vct": "urn:x"}, [bad]), None
        )


# V11: shapes
@pytest.mark.parametrize(
    "content",
    [
        ["c2FsdA", "name"],  # object disclosure with 2 elements referenced from _sd
        ["c2FsdA", "name", "v", "extra"],
        {"salt": "x"},
        "just a string",
        [1, "name", "v"],  # non-string salt
        ["c2FsdA", 5, "v"],  # non-string name
    ],
)
def test_v11_malformed_object_disclosures(content: object) -> None:
    bad = encode_disclosure(raw=json.dumps(content))
    with pytest.raises((InvalidDisclosure, InvalidSdStructure)):
        verify(sd_jwt({"_sd": [d(bad)]}, [bad]), None)


def test_v11_array_disclosure_with_three_elements() -> None:
    bad = encode_disclosure("c2FsdA", "name", "DE")
    with pytest.raises(InvalidDisclosure):
        verify(sd_jwt({"nationalities": [{"...": d(bad)}]}, [bad]), None)


def test_v11_bad_base64url_disclosure() -> None:
    with pytest.raises(InvalidDisclosure):
        verify(sd_jwt({"_sd": []}, ["!!!not-base64!!!"]), None)


@pytest.mark.parametrize("sd", ["digest", [1, 2], {"a": "b"}, [None]])
def test_v11_sd_not_an_array_of_strings(sd: object) -> None:
    with pytest.raises(InvalidSdStructure):
        verify(sd_jwt({"_sd": sd}, []), None)


def test_v11_ellipsis_object_with_other_keys() -> None:
    element = encode_disclosure("c2FsdA", "DE")
    with pytest.raises(InvalidSdStructure):
        verify(sd_jwt({"nationalities": [{"...": d(element), "x": 1}]}, [element]), None)


def test_v11_duplicate_members_inside_a_disclosure() -> None:
    bad = encode_disclosure(raw='["c2FsdA", "given_name", {"a": 1, "a": 2}]')
    with pytest.raises(InvalidDisclosure):
        verify(sd_jwt({"_sd": [d(bad)]}, [bad]), None)


# V12: hash algorithms
@pytest.mark.parametrize("alg", ["sha-256-32", "md5", "SHA-256", "sha3-256", 256])
def test_v12_unaccepted_sd_alg(alg: object) -> None:
    with pytest.raises(UnsupportedHashAlgorithm):
        verify(sd_jwt({"_sd": [d(GIVEN)], "_sd_alg": alg}, [GIVEN]), None)


def test_v12_nested_sd_alg() -> None:
    with pytest.raises(InvalidSdStructure):
        verify(sd_jwt({"address": {"_sd_alg": "sha-256", "_sd": []}}, []), None)


# §7.1 step 6: validity
@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 3600},
        {"nbf": int(time.time()) + 3600},
        {"exp": "2099"},
        {"exp": 10**30},
    ],
)
def test_expired_or_not_yet_valid(claims: dict[str, object]) -> None:
    with pytest.raises(ExpiredOrNotYetValid):
        verify(sd_jwt({"_sd": [], **claims}, []), None)


# J07 / structure
@pytest.mark.parametrize("text", ["", "no-tilde", "~", "a.b.c~~", "a.b.c~d~e.f"])
def test_malformed_serialization(text: str) -> None:
    with pytest.raises(SdJwtError):
        verify(text, None)


def test_j07_oversized_and_too_many_disclosures() -> None:
    with pytest.raises(MalformedSdJwt):
        verify("a" * (5 * 1024 * 1024) + "~", None)
    with pytest.raises(MalformedSdJwt):
        verify(signed({}) + "~" + "WyJhIiwiYiJd~" * 100_000, None)


def test_recursion_is_bounded() -> None:
    # a chain of recursive disclosures deeper than the processing limit
    inner: object = "leaf"
    disclosures = []
    for level in range(80):
        encoded = encode_disclosure(f"c2FsdA{level}", f"n{level}", inner)
        disclosures.append(encoded)
        inner = {"_sd": [d(encoded)]}
    assert isinstance(inner, dict)
    with pytest.raises(InvalidSdStructure):
        verify(sd_jwt(inner, disclosures), None)


def test_transaction_data_hashes_are_bound_by_key_binding() -> None:
    from core.sdjwt.key_binding import KeyBindingRequest, bind

    base = sd_jwt({"_sd": [d(GIVEN)]}, [GIVEN])
    hashes = ["fOBUSQvo46yQO-wRwXBcGqvnbKIueISEL961_Sjd4do"]
    request = KeyBindingRequest(AUDIENCE, NONCE, int(time.time()), hashes, "sha-256")
    text = bind(base, request, HOLDER)
    policy = KeyBindingPolicy(audience=AUDIENCE, nonce=NONCE, transaction_data_hashes=hashes)
    verified = verify_sd_jwt(
        text, issuer_key=issuer_public_key(), typ="dc+sd-jwt", key_binding=policy
    )
    assert verified.key_binding is not None
    assert verified.key_binding["transaction_data_hashes_alg"] == "sha-256"
    other = KeyBindingPolicy(audience=AUDIENCE, nonce=NONCE, transaction_data_hashes=["other"])
    with pytest.raises(KeyBindingInvalid, match="transaction_data"):
        verify_sd_jwt(text, issuer_key=issuer_public_key(), typ="dc+sd-jwt", key_binding=other)
    without = with_key_binding(base)
    with pytest.raises(KeyBindingInvalid, match="transaction_data"):
        verify_sd_jwt(without, issuer_key=issuer_public_key(), typ="dc+sd-jwt", key_binding=policy)


def test_the_holder_key_is_checked_afresh_for_every_presentation() -> None:
    # A verifier sees each credential once: its holder key is parsed (and the point
    # checked) every time, and never kept among the keys that recur.
    _key_from_members.cache_clear()
    verify(good())
    verify(good())
    assert _key_from_members.cache_info().currsize == 0
