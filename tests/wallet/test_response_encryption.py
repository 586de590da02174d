"""The wallet's encrypted credential requests and responses (OpenID4VCI 1.0 §8.2, §10):
what it chooses from an issuer's metadata, and every answer it refuses to open; and, end
to end, receiving from an agency that requires encryption."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient

from core.jose.jwe import decrypt_compact, encrypt_compact
from core.jose.jwk import public_jwk
from core.messages import convert_message
from core.oid4vci import CredentialRequest
from core.oid4vci_metadata import CredentialIssuerMetadata
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.wallet.phone import Phone
from wallet.services.response_encryption import (
    EncryptionPlan,
    RefusedEncryption,
    encryption_plan,
    seal_request,
)

ISSUER_KEY = ec.generate_private_key(ec.SECP256R1())
ISSUER_JWK = {**public_jwk(ISSUER_KEY), "kid": "request-1", "alg": "ECDH-ES", "use": "enc"}


def _key_of(jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}


def _metadata(**members: Any) -> CredentialIssuerMetadata:
    return convert_message(
        {
            "credential_issuer": "https://issuer.example",
            "credential_endpoint": "https://issuer.example/credential",
            "credential_configurations_supported": {},
            **members,
        },
        CredentialIssuerMetadata,
    )


def _request_encryption(required: bool = False, **key: Any) -> dict[str, Any]:
    return {
        "jwks": {"keys": [{**ISSUER_JWK, **key}]},
        "enc_values_supported": ["A256GCM", "A128GCM"],
        "encryption_required": required,
    }


def _response_encryption(required: bool = False, enc: list[str] | None = None) -> dict[str, Any]:
    return {
        "alg_values_supported": ["ECDH-ES"],
        "enc_values_supported": enc or ["A128GCM", "A256GCM"],
        "encryption_required": required,
    }


def test_an_issuer_offering_encryption_gets_encrypted_requests_and_responses() -> None:
    plan = encryption_plan(
        _metadata(
            credential_request_encryption=_request_encryption(),
            credential_response_encryption=_response_encryption(),
        )
    )
    assert plan is not None
    assert (plan.request_enc, plan.response_enc) == ("A128GCM", "A128GCM")
    sealed = seal_request(CredentialRequest(credential_configuration_id="x"), plan)
    assert sealed.content_type == "application/jwt"
    header, plaintext = decrypt_compact(sealed.content.decode(), ISSUER_KEY)
    assert header["kid"] == "request-1"
    sent = json.loads(plaintext)
    response_jwk = sent["credential_response_encryption"]["jwk"]
    assert response_jwk["alg"] == "ECDH-ES" and "d" not in response_jwk
    # the issuer's answer, encrypted to the key the request sent, opens
    answer = encrypt_compact(b'{"credentials": []}', _key_of(response_jwk), enc="A128GCM")
    assert sealed.open(answer.encode(), None) == {"credentials": []}


def test_no_encryption_offered_means_plain_json() -> None:
    assert encryption_plan(_metadata()) is None
    sealed = seal_request(CredentialRequest(credential_configuration_id="a"), None)
    assert sealed.content_type == "application/json"
    assert sealed.open(None, {"credentials": []}) == {"credentials": []}
    with pytest.raises(RefusedEncryption):  # an encrypted answer nobody asked for
        sealed.open(b"a.b.c.d.e", None)


def test_encrypted_responses_without_a_usable_request_key_fall_back_unless_required() -> None:
    rsa_only = _request_encryption(kty="RSA")
    assert (
        encryption_plan(
            _metadata(
                credential_request_encryption=rsa_only,
                credential_response_encryption=_response_encryption(),
            )
        )
        is None
    )
    with pytest.raises(RefusedEncryption):
        encryption_plan(
            _metadata(
                credential_request_encryption=_request_encryption(required=True, alg="RSA-OAEP"),
            )
        )
    with pytest.raises(RefusedEncryption):
        encryption_plan(
            _metadata(credential_response_encryption=_response_encryption(required=True))
        )
    with pytest.raises(RefusedEncryption):  # a key without a kid the JWE could name
        encryption_plan(
            _metadata(credential_request_encryption=_request_encryption(required=True, kid=""))
        )
    with pytest.raises(RefusedEncryption):  # required, by algorithms the wallet does not use
        encryption_plan(
            _metadata(
                credential_request_encryption=_request_encryption(),
                credential_response_encryption=_response_encryption(True, enc=["A192GCM"]),
            )
        )


@pytest.mark.parametrize("case", ["plain", "other key", "other enc", "garbage"])
def test_answers_not_encrypted_as_asked_are_refused(case: str) -> None:
    plan = EncryptionPlan(request_key=ISSUER_JWK, request_enc="A128GCM", response_enc="A128GCM")
    sealed = seal_request(CredentialRequest(credential_configuration_id="x"), plan)
    _, plaintext = decrypt_compact(sealed.content.decode(), ISSUER_KEY)
    asked = json.loads(plaintext)["credential_response_encryption"]["jwk"]
    stranger = {**public_jwk(ec.generate_private_key(ec.SECP256R1())), "alg": "ECDH-ES"}
    answers: dict[str, tuple[bytes | None, object]] = {
        "plain": (None, {"credentials": []}),
        "other key": (encrypt_compact(b"{}", _key_of(stranger)).encode(), None),
        "other enc": (encrypt_compact(b"{}", _key_of(asked), enc="A256GCM").encode(), None),
        "garbage": (b"not-a-jwe", None),
    }
    jwt, body = answers[case]
    with pytest.raises(RefusedEncryption):
        sealed.open(jwt, body)


def test_the_wallet_receives_from_an_agency_that_requires_encryption(
    client: TestClient[Any],
) -> None:
    context = client.app.state.issuers
    agency = context.agency("civil-registry")
    required = dataclasses.replace(agency, encryption_required=True)
    client.app.state.issuers = dataclasses.replace(
        context, agencies={**context.agencies, "civil-registry": required}
    )
    metadata = client.get("/.well-known/openid-credential-issuer/issuers/civil-registry").json()
    assert metadata["credential_response_encryption"]["encryption_required"] is True
    phone = Phone(client)
    phone.register()
    for custody in ("server", "device"):
        created = create_offer(client, "civil-registry", "national_id", CITIZEN)
        assert phone.receive(created["offer_uri"], custody=custody)["status"] == "received"
