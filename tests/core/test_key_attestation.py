"""Key attestations (OpenID4VCI 1.0 Appendix D.1; HAIP 1.0 §4.5.1): every rule, against
attestations of a throwaway wallet provider."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from msgspec import UNSET

from core.encoding import b64url_encode, json_dumps_bytes
from core.errors import InvalidProof
from core.jose.jwk import jwk_thumbprint, public_jwk
from core.key_attestation import (
    MAX_ATTESTED_KEYS,
    MAX_KEY_ATTESTATION_BYTES,
    KeyAttestationClaims,
    VerifiedKeyAttestation,
    verify_key_attestation,
)
from core.keys.signer import SoftwareSigner
from core.keys.x509 import ValidatedChains, to_x5c
from core.messages import convert_message
from core.oid4vci_metadata import KeyAttestationsRequired
from tests.support.key_attestations import NO_EXP, WalletProvider

ALGORITHMS = frozenset({"ES256"})
MAX_AGE = 300.0
LEEWAY = 60.0
#: Shared by every verification of this module, as an agency shares one across requests:
#: each refusal below is decided with the provider's chain already remembered.
CHAINS = ValidatedChains()


@pytest.fixture(scope="module")
def provider() -> WalletProvider:
    return WalletProvider.create()


def _key() -> dict[str, str]:
    return public_jwk(ec.generate_private_key(ec.SECP256R1()))


def _verify(
    token: object, provider: WalletProvider, *, now: float | None = None, **options: Any
) -> VerifiedKeyAttestation:
    return verify_key_attestation(
        token,
        anchors=options.pop("anchors", [provider.anchor]),
        algorithms=options.pop("algorithms", ALGORITHMS),
        now=time.time() if now is None else now,
        max_age=MAX_AGE,
        leeway=LEEWAY,
        chains=options.pop("chains", CHAINS),
        **options,
    )


def _refused(token: object, provider: WalletProvider, match: str, **options: Any) -> None:
    with pytest.raises(InvalidProof, match=match) as raised:
        _verify(token, provider, **options)
    assert raised.value.error == "invalid_proof"


def _unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        (
            b64url_encode(json_dumps_bytes(header)),
            b64url_encode(json_dumps_bytes(payload)),
            b64url_encode(signature),
        )
    )


def test_a_trusted_attestation_verifies_with_its_keys_levels_and_nonce(
    provider: WalletProvider,
) -> None:
    keys = [_key(), _key()]
    token = provider.attest(
        keys,
        nonce="n-1",
        payload={"certification": "https://cert.example/scheme/42", "future_claim": {"x": 1}},
    )
    verified = _verify(token, provider)
    assert [key.jwk for key in verified.keys] == keys
    assert [key.algorithm for key in verified.keys] == ["ES256", "ES256"]
    assert all(verified.attests(jwk_thumbprint(key)) for key in keys)
    assert not verified.attests(jwk_thumbprint(_key()))
    assert verified.claims.nonce == "n-1"
    assert verified.claims.key_storage == ["iso_18045_high"]
    assert verified.claims.user_authentication == ["iso_18045_moderate"]
    assert verified.claims.certification == "https://cert.example/scheme/42"
    assert verified.signer_certificate == provider.certificate


def test_typ_must_be_key_attestation_jwt(provider: WalletProvider) -> None:
    _refused(provider.attest([_key()], typ="openid4vci-proof+jwt"), provider, "typ")
    _refused(provider.attest([_key()], typ="jwt"), provider, "typ")
    application = provider.attest([_key()], typ="application/key-attestation+jwt")
    assert _verify(application, provider).keys


def test_alg_none_hmac_and_algorithms_outside_the_allow_list_are_refused(
    provider: WalletProvider,
) -> None:
    x5c = list(provider.signer.x5c or ())
    payload = {"iat": int(time.time()), "attested_keys": [_key()]}
    for alg in ("none", "HS256"):
        header = {"alg": alg, "typ": "key-attestation+jwt", "x5c": x5c}
        _refused(_unsigned(header, payload, b"\x00" * 32), provider, "not allowed")
    p384 = SoftwareSigner(ec.generate_private_key(ec.SECP384R1()), x5c=provider.signer.x5c)
    _refused(provider.attest([_key()], signer=p384), provider, "ES384.*not allowed")


def test_the_signing_key_comes_from_x5c_only(provider: WalletProvider) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    bare = SoftwareSigner(key)
    no_chain = _unsigned(
        {"alg": "ES256", "typ": "key-attestation+jwt", "jwk": public_jwk(key)},
        {"iat": int(time.time()), "attested_keys": [_key()]},
    )
    _refused(no_chain, provider, "signed by the key of its x5c")
    without_x5c = _unsigned(
        {"alg": "ES256", "typ": "key-attestation+jwt"},
        {"iat": int(time.time()), "attested_keys": [_key()]},
    )
    _refused(without_x5c, provider, "no x5c")
    other_key_same_chain = SoftwareSigner(key, x5c=provider.signer.x5c)
    assert _verify(provider.attest([_key()]), provider).keys  # the chain is remembered now
    _refused(provider.attest([_key()], signer=other_key_same_chain), provider, "does not verify")
    assert bare.x5c is None


def test_without_a_chain_memory_the_chain_is_validated_each_time(
    provider: WalletProvider,
) -> None:
    assert _verify(provider.attest([_key()]), provider, chains=None).keys
    later = time.time() + 400 * 86400
    token = provider.attest([_key()], iat=later)
    _refused(token, provider, "trusted wallet provider", now=later, chains=None)


def test_the_chain_must_lead_to_a_configured_wallet_provider(provider: WalletProvider) -> None:
    other = WalletProvider.create("Other Provider")
    token = other.attest([_key()])
    _refused(token, provider, "trusted wallet provider")
    _refused(provider.attest([_key()]), provider, "no wallet provider is trusted", anchors=[])
    assert _verify(token, provider, anchors=[provider.anchor, other.anchor]).keys


def test_the_chain_must_not_hold_the_anchor_nor_a_self_signed_certificate(
    provider: WalletProvider,
) -> None:
    with_anchor = SoftwareSigner(
        provider.key,
        x5c=to_x5c([provider.certificate, provider.anchor]),
    )
    _refused(provider.attest([_key()], signer=with_anchor), provider, "trusted wallet provider")
    anchor_signed = SoftwareSigner(provider.anchor_key, x5c=to_x5c([provider.anchor]))
    _refused(provider.attest([_key()], signer=anchor_signed), provider, "trusted wallet provider")


def test_a_chain_outside_its_validity_is_refused(provider: WalletProvider) -> None:
    later = time.time() + 400 * 86400  # the signing certificate is valid for 365 days
    token = provider.attest([_key()], iat=later)
    _refused(token, provider, "trusted wallet provider", now=later)


@pytest.mark.parametrize(
    ("iat_offset", "match"),
    [
        (-(MAX_AGE + LEEWAY + 5), "too old"),
        (LEEWAY + 5, "in the future"),
    ],
)
def test_iat_must_be_fresh(provider: WalletProvider, iat_offset: float, match: str) -> None:
    _refused(provider.attest([_key()], iat=time.time() + iat_offset), provider, match)


def test_iat_within_the_window_is_accepted(provider: WalletProvider) -> None:
    assert _verify(provider.attest([_key()], iat=time.time() - MAX_AGE + 5), provider).keys


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({"iat": "1700000000"}, r"\$\.iat: expected an integer"),
        ({"iat": 1.5}, r"\$\.iat"),
        ({"iat": True}, r"\$\.iat"),
        ({"exp": -1}, r"\$\.exp"),
        ({"attested_keys": []}, r"\$\.attested_keys"),
        ({"attested_keys": "key"}, r"\$\.attested_keys"),
        ({"attested_keys": ["key"]}, r"\$\.attested_keys\[0\]"),
        ({"key_storage": []}, r"\$\.key_storage"),
        ({"key_storage": "iso_18045_high"}, r"\$\.key_storage"),
        ({"user_authentication": [7]}, r"\$\.user_authentication\[0\]"),
        ({"user_authentication": [""]}, r"\$\.user_authentication\[0\]"),
        ({"certification": 42}, r"\$\.certification"),
        ({"certification": "not a url"}, "certification must be a URL"),
        ({"nonce": 42}, r"\$\.nonce"),
        ({"status": "valid"}, r"\$\.status"),
    ],
)
def test_claims_of_the_wrong_shape_are_refused(
    provider: WalletProvider, payload: dict[str, Any], match: str
) -> None:
    _refused(provider.attest([_key()], payload=payload), provider, match)


def test_iat_and_attested_keys_are_required(provider: WalletProvider) -> None:
    header = {"alg": "ES256", "typ": "key-attestation+jwt", "x5c": list(provider.signer.x5c or ())}
    for claims, missing in (
        ({"attested_keys": [_key()]}, "iat"),
        ({"iat": int(time.time())}, "attested_keys"),
    ):
        signing_input = ".".join(
            (b64url_encode(json_dumps_bytes(header)), b64url_encode(json_dumps_bytes(claims)))
        )
        signed = signing_input + "." + b64url_encode(provider.signer.sign(signing_input.encode()))
        _refused(signed, provider, f"missing the required member {missing}")


def test_exp_in_the_past_is_refused_and_may_be_required(provider: WalletProvider) -> None:
    now = time.time()
    _refused(provider.attest([_key()], exp=now - LEEWAY - 5), provider, "expired")
    without_exp = provider.attest([_key()], exp=NO_EXP)
    assert _verify(without_exp, provider).claims.exp is UNSET
    _refused(without_exp, provider, "needs exp", exp_required=True)
    assert _verify(provider.attest([_key()]), provider, exp_required=True).keys


def test_attested_keys_must_be_distinct_public_keys(provider: WalletProvider) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    leaked = {**public_jwk(private), "d": b64url_encode(b"\x01" * 32)}
    _refused(provider.attest([_key(), leaked]), provider, r"attested_keys\[1\]")
    off_curve = {**_key(), "y": b64url_encode(b"\x00" * 32)}
    _refused(provider.attest([off_curve]), provider, r"attested_keys\[0\]")
    symmetric = {"kty": "oct", "k": b64url_encode(b"secret")}
    _refused(provider.attest([symmetric]), provider, r"attested_keys\[0\]")
    same = _key()
    _refused(provider.attest([same, {**same, "kid": "again"}]), provider, "twice")
    many = [_key() for _ in range(MAX_ATTESTED_KEYS + 1)]
    _refused(
        provider.attest(many),
        provider,
        rf"\$\.attested_keys: expected an array of length <= {MAX_ATTESTED_KEYS}",
    )


def test_size_is_bounded_before_parsing(provider: WalletProvider) -> None:
    _refused("a" * (MAX_KEY_ATTESTATION_BYTES + 1), provider, "at most")
    _refused(None, provider, "compact JWT")
    _refused("", provider, "compact JWT")
    _refused("a.b", provider, "three parts")
    _refused(_unsigned({"alg": "ES256"}, {})[:-1] + "!", provider, "does not verify")


def test_a_payload_that_is_not_strict_json_is_refused(provider: WalletProvider) -> None:
    header = b64url_encode(
        json_dumps_bytes(
            {"alg": "ES256", "typ": "key-attestation+jwt", "x5c": list(provider.signer.x5c or ())}
        )
    )
    body = b64url_encode(b'{"iat": 1, "iat": 2}')
    signing_input = f"{header}.{body}"
    token = signing_input + "." + b64url_encode(provider.signer.sign(signing_input.encode()))
    _refused(token, provider, "not a JSON object")


def _claims(**levels: list[str]) -> KeyAttestationClaims:
    return convert_message({"iat": 1, "attested_keys": [_key()], **levels}, KeyAttestationClaims)


@pytest.mark.parametrize(
    ("required", "attested", "unmet"),
    [
        ({}, {}, ()),
        ({}, {"key_storage": ["iso_18045_basic"]}, ()),
        (
            {"key_storage": ["iso_18045_high", "iso_18045_moderate"]},
            {"key_storage": ["iso_18045_moderate"]},
            (),
        ),
        (
            {"key_storage": ["iso_18045_high"]},
            {"key_storage": ["iso_18045_basic"]},
            ("key_storage",),
        ),
        (
            {"key_storage": ["iso_18045_moderate"]},
            {"key_storage": ["iso_18045_high"]},
            ("key_storage",),
        ),
        ({"key_storage": ["iso_18045_high"]}, {}, ("key_storage",)),
        (
            {"key_storage": ["iso_18045_high"], "user_authentication": ["iso_18045_high"]},
            {"key_storage": ["iso_18045_high"], "user_authentication": ["iso_18045_basic"]},
            ("user_authentication",),
        ),
        (
            {"key_storage": ["iso_18045_high"], "user_authentication": ["iso_18045_high"]},
            {"user_authentication": ["iso_18045_high"], "key_storage": ["ISO_18045_HIGH"]},
            ("key_storage",),
        ),
        (
            {"user_authentication": ["https://ecosystem.example/ua/strong"]},
            {"user_authentication": ["https://ecosystem.example/ua/strong"]},
            (),
        ),
    ],
)
def test_meets_asks_one_accepted_level_of_each_kind_named(
    required: dict[str, list[str]], attested: dict[str, list[str]], unmet: tuple[str, ...]
) -> None:
    requirement = convert_message(required, KeyAttestationsRequired)
    claims = _claims(**attested)
    assert claims.unmet(requirement) == unmet
    assert claims.meets(requirement) is (not unmet)


def test_require_names_the_kind_and_the_accepted_levels(provider: WalletProvider) -> None:
    verified = _verify(provider.attest([_key()], key_storage=["iso_18045_basic"]), provider)
    requirement = KeyAttestationsRequired(key_storage=["iso_18045_high", "iso_18045_moderate"])
    assert not verified.meets(requirement)
    with pytest.raises(InvalidProof) as raised:
        verified.require(requirement)
    assert raised.value.description == (
        "the key attestation does not attest a level this credential requires "
        "(key_storage one of iso_18045_high, iso_18045_moderate)"
    )
    verified.require(KeyAttestationsRequired())
    verified.require(KeyAttestationsRequired(user_authentication=["iso_18045_moderate"]))
