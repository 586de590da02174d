"""Interoperability with the reference SD-JWT implementation (PyPI ``sd-jwt``) as an
oracle, both ways: what it issues and presents verifies with ours, and what we issue and
present verifies with it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from core.jose.jwk import public_key_from_jwk
from core.keys.signer import SoftwareSigner
from core.sdjwt.key_binding import KeyBindingRequest, bind
from core.sdjwt.present import present
from core.sdjwt.verify import KeyBindingPolicy, verify_issuance, verify_sd_jwt
from core.sdjwt_vc.profile import issue_sd_jwt_vc

AUD = "x509_hash:Uvo3HtuIxuhC92rShpgqcT3YXwrqRxWEviRiA0OZszk"
NONCE = "bUfK1bI3Ln4w4ZrmSUqRcYo4O1mY2hQk"

CLAIMS = {
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birthdate": "1964-08-12",
    "age_over_18": True,
    "address": {
        "street_address": "Heidestraße 17",
        "locality": "Köln",
        "postal_code": "51147",
        "country": "DE",
    },
    "nationalities": ["DE", "FR"],
}


def _jwcrypto_key() -> JWK:
    return JWK.generate(kty="EC", crv="P-256")


def _signer_of(key: JWK) -> SoftwareSigner:
    from cryptography.hazmat.primitives.asymmetric import ec

    private = key.get_op_key("sign")
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    return SoftwareSigner(private)


def _reference_claims() -> dict[Any, Any]:
    return {
        "iss": "https://issuer.example",
        "iat": int(time.time()),
        "vct": "urn:eu.europa.ec.eudi:pid:1",
        SDObj("given_name"): CLAIMS["given_name"],
        SDObj("family_name"): CLAIMS["family_name"],
        SDObj("birthdate"): CLAIMS["birthdate"],
        SDObj("age_over_18"): True,
        SDObj("address"): {SDObj(k): v for k, v in CLAIMS["address"].items()},  # type: ignore[attr-defined]
        "nationalities": [SDObj("DE"), SDObj("FR")],
    }


def _reference_presents_and_we_verify(
    issued: str, issuer_key: JWK, holder_key: JWK, to_disclose: dict[str, Any]
) -> dict[str, Any]:
    """The reference holder presents with key binding; our verifier checks it."""
    holder = SDJWTHolder(issued)
    holder.create_presentation(
        to_disclose, nonce=NONCE, aud=AUD, holder_key=holder_key, sign_alg="ES256"
    )
    verified = verify_sd_jwt(
        holder.sd_jwt_presentation,
        issuer_key=public_key_from_jwk(issuer_key.export_public(as_dict=True)),
        typ="dc+sd-jwt",
        key_binding=KeyBindingPolicy(audience=AUD, nonce=NONCE),
    )
    return verified.claims


def test_reference_issuance_verifies_with_ours() -> None:
    issuer_key, holder_key = _jwcrypto_key(), _jwcrypto_key()
    issued = SDJWTIssuer(
        _reference_claims(),
        issuer_key,
        holder_key,
        add_decoy_claims=True,
        extra_header_parameters={"typ": "dc+sd-jwt"},
    ).sd_jwt_issuance
    verified = verify_issuance(
        issued,
        issuer_key=public_key_from_jwk(issuer_key.export_public(as_dict=True)),
        typ="dc+sd-jwt",
    )
    for name, value in CLAIMS.items():
        assert verified.claims[name] == value
    assert verified.claims["cnf"]["jwk"]["x"] == holder_key.export_public(as_dict=True)["x"]


def test_reference_presentation_with_key_binding_verifies_with_ours() -> None:
    issuer_key, holder_key = _jwcrypto_key(), _jwcrypto_key()
    issued = SDJWTIssuer(
        _reference_claims(), issuer_key, holder_key, extra_header_parameters={"typ": "dc+sd-jwt"}
    ).sd_jwt_issuance
    claims = _reference_presents_and_we_verify(
        issued,
        issuer_key,
        holder_key,
        {"age_over_18": True, "address": {"locality": True}, "nationalities": [False, True]},
    )
    assert claims["age_over_18"] is True
    assert claims["address"] == {"locality": "Köln"}
    assert claims["nationalities"] == ["FR"]
    assert "given_name" not in claims


@pytest.fixture
def ours() -> tuple[JWK, JWK, str]:
    issuer_key, holder_key = _jwcrypto_key(), _jwcrypto_key()
    issued = issue_sd_jwt_vc(
        CLAIMS,
        _signer_of(issuer_key),
        vct="urn:eu.europa.ec.eudi:pid:1",
        issuer="https://issuer.example",
        holder_jwk=holder_key.export_public(as_dict=True),
        disclosable=[
            ("given_name",),
            ("family_name",),
            ("birthdate",),
            ("age_over_18",),
            ("address",),
            ("address", "street_address"),
            ("address", "locality"),
            ("address", "postal_code"),
            ("nationalities", None),
        ],
        issued_at=int(time.time()),
        include_x5c=False,
    )
    return issuer_key, holder_key, issued.serialize()


def test_our_issuance_verifies_with_the_reference(ours: tuple[JWK, JWK, str]) -> None:
    issuer_key, _, issued = ours
    verifier = SDJWTVerifier(issued, lambda iss, header: issuer_key)
    payload = verifier.get_verified_payload()
    for name, value in CLAIMS.items():
        assert payload[name] == value


def test_our_presentation_with_key_binding_verifies_with_the_reference(
    ours: tuple[JWK, JWK, str],
) -> None:
    issuer_key, holder_key, issued = ours
    parts = present(issued, [("age_over_18",), ("address", "locality"), ("nationalities", 1)])
    presentation = bind(
        parts.sd_jwt, KeyBindingRequest(AUD, NONCE, int(time.time())), _signer_of(holder_key)
    )
    verifier = SDJWTVerifier(
        presentation, lambda iss, header: issuer_key, expected_aud=AUD, expected_nonce=NONCE
    )
    payload = verifier.get_verified_payload()
    assert payload["age_over_18"] is True
    assert payload["address"] == {"locality": "Köln", "country": "DE"}
    assert payload["nationalities"] == ["FR"]
    assert "given_name" not in payload and "birthdate" not in payload


def test_reference_holder_presents_what_we_issued(ours: tuple[JWK, JWK, str]) -> None:
    issuer_key, holder_key, issued = ours
    claims = _reference_presents_and_we_verify(
        issued, issuer_key, holder_key, {"given_name": True, "family_name": True}
    )
    assert claims["given_name"] == "Erika"
    assert claims["family_name"] == "Mustermann"
    assert "address" not in claims
