"""Encrypted Credential Requests and Responses at the Credential Endpoint (OpenID4VCI 1.0
§8.2, §8.3, §10, §12.2.4), on SQLite and PostgreSQL. The wallet's side is jwcrypto used
directly (someone else's JWE, not ours): it encrypts requests to the key the agency
publishes and decrypts what the agency answers."""

from __future__ import annotations

import json
from typing import Any

from litestar.testing import TestClient

from core.encoding import b64url_decode
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.wallet import Wallet

ISSUER = f"{PUBLIC_BASE_URL}/issuers/civil-registry"


# §12.2.4 metadata ---------------------------------------------------------------------


def test_the_metadata_publishes_encryption_of_requests_and_responses(
    client: TestClient[Any],
) -> None:
    metadata = Wallet(client).metadata(ISSUER)
    assert metadata["credential_response_encryption"] == {
        "alg_values_supported": ["ECDH-ES"],
        "enc_values_supported": ["A128GCM", "A256GCM"],
        "encryption_required": False,
    }
    request = metadata["credential_request_encryption"]
    assert request["enc_values_supported"] == ["A128GCM", "A256GCM"]
    assert request["encryption_required"] is False
    assert "zip_values_supported" not in request
    (key,) = request["jwks"]["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-256"
    assert key["alg"] == "ECDH-ES" and key["use"] == "enc" and key["kid"]
    assert not {"d", "p", "q", "k"} & set(key)
    # the agency's own key, the same for every reader, apart from its signing keys
    assert Wallet(client).metadata(ISSUER)["credential_request_encryption"] == request
    other = Wallet(client).metadata(f"{PUBLIC_BASE_URL}/issuers/transport-agency")
    assert other["credential_request_encryption"]["jwks"]["keys"][0]["kid"] != key["kid"]
    signing = client.get("/.well-known/jwt-vc-issuer/issuers/civil-registry").json()
    assert key["kid"] not in {k["kid"] for k in signing["jwks"]["keys"]}


def test_the_signed_metadata_carries_the_same_encryption(client: TestClient[Any]) -> None:
    metadata = Wallet(client).metadata(ISSUER)
    signed = client.get(
        "/.well-known/openid-credential-issuer/issuers/civil-registry",
        headers={"Accept": "application/jwt"},
    )
    assert signed.status_code == 200
    claims = json.loads(b64url_decode(signed.text.split(".")[1]))
    for name in ("credential_request_encryption", "credential_response_encryption"):
        assert claims[name] == metadata[name]
