"""The deployment as wallet provider: its trust material at ``GET /wallet/provider``, and
the key attestations (OpenID4VCI 1.0 Appendix D.1) its wallet puts in the key proofs of a
credential whose issuer requires them: one per key, for this issuer's ``c_nonce``, with
levels stated only for keys this service keeps. Checked with the issuers' own verifier
of key attestations, against the CA the provider publishes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from typing import Any

import pytest
from cryptography import x509
from litestar.testing import TestClient

from core.encoding import b64url_decode
from core.jose.jwk import jwk_thumbprint
from core.key_attestation import verify_key_attestation
from core.keys.x509 import validate_x5c
from issuers.domain import KeyAttestationRequirement
from issuers.services.context import IssuerContext
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.issuers.test_issuance import create_offer
from tests.support.key_attestations import deployment_provider
from tests.wallet.phone import Phone

WALLET = f"{PUBLIC_BASE_URL}/wallet"


def _provider_document(client: TestClient[Any]) -> dict[str, Any]:
    response = client.get("/wallet/provider")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, max-age=300"
    document: dict[str, Any] = response.json()
    return document


def _ca(client: TestClient[Any]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(
        _provider_document(client)["certificate_authority"].encode()
    )


def _requiring(client: TestClient[Any], requirement: KeyAttestationRequirement | None) -> None:
    """The national ID requires key attestations meeting ``requirement`` (None: none)."""
    context: IssuerContext = client.app.state.issuers
    agency = context.agencies["civil-registry"]
    national_id = dataclasses.replace(
        agency.configurations["national_id"], key_attestations_required=requirement
    )
    agency = dataclasses.replace(
        agency, configurations={**agency.configurations, "national_id": national_id}
    )
    client.app.state.issuers = dataclasses.replace(
        context, agencies={**context.agencies, agency.issuer_id: agency}
    )


def _header(signing_input: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(b64url_decode(signing_input.split(".", maxsplit=1)[0]))
    return value


def _payload(signing_input: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(b64url_decode(signing_input.split(".")[1]))
    return value


def _accepted_on_the_phone(
    client: TestClient[Any], phone: Phone, configuration: str = "national_id"
) -> tuple[str, dict[str, Any]]:
    issuer, claims = (
        ("civil-registry", CITIZEN)
        if configuration == "national_id"
        else ("transport-agency", DRIVER)
    )
    created = create_offer(client, issuer, configuration, claims)
    scanned = phone.scan(created["offer_uri"])
    assert scanned.status_code == 201, scanned.text
    offer = scanned.json()["offer"]
    body = {"custody": "device", "holder_keys": phone.new_holder_keys(offer["holder_keys_needed"])}
    accepted = phone.post(f"/wallet/offers/{offer['offer_id']}/accept", body)
    assert accepted.status_code == 200, accepted.text
    result: dict[str, Any] = accepted.json()
    assert result["status"] == "proofs_needed"
    return offer["offer_id"], result


def test_the_provider_publishes_its_ca_and_what_it_attests(client: TestClient[Any]) -> None:
    document = _provider_document(client)
    assert document["wallet_provider"] == WALLET
    assert document["wallet_name"] and document["wallet_link"].startswith(PUBLIC_BASE_URL)
    ca = _ca(client)
    # in the tests, the deployment's CA is the one the test wallets attest under too
    assert ca == deployment_provider().anchor
    # the signing certificate chains to the CA, which is not in x5c itself
    leaf = validate_x5c(document["x5c"], [ca], at=dt.datetime.now(dt.UTC))
    assert len(document["x5c"]) == 1 and leaf.issuer == ca.subject and leaf != ca
    assert document["key_attestation_levels"] == {
        "server": {"key_storage": ["iso_18045_basic"], "user_authentication": ["iso_18045_basic"]},
        "device": {},
    }


def test_keys_on_the_phone_are_attested_without_levels(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    offer_id, result = _accepted_on_the_phone(client, phone)
    requests = result["signing_requests"]
    assert len(requests) == 3  # a batch, one key each, one attestation each
    ca = _ca(client)
    attested = []
    for request in requests:
        header, payload = _header(request["signing_input"]), _payload(request["signing_input"])
        verified = verify_key_attestation(
            header["key_attestation"],
            anchors=[ca],
            algorithms=frozenset({"ES256"}),
            now=time.time(),
            max_age=300,
            leeway=60,
            exp_required=True,
        )
        claims = verified.claims
        assert claims.iss == WALLET
        assert claims.nonce == payload["nonce"]  # the issuer's c_nonce, as the proof's
        # the API cannot know how the phone keeps its keys: no level is claimed
        assert "key_storage" not in _payload(header["key_attestation"])
        assert "user_authentication" not in _payload(header["key_attestation"])
        assert [k.jwk for k in verified.keys] == [request["holder_key"]]
        assert verified.attests(jwk_thumbprint(header["jwk"]))
        attested.append(request["holder_key"]["x"])
    assert len(set(attested)) == 3
    completed = phone.post(
        f"/wallet/offers/{offer_id}/complete", {"signatures": phone.sign_requests(requests)}
    )
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "received"


def test_keys_kept_here_are_attested_at_the_basic_level(client: TestClient[Any]) -> None:
    # an issuer asking for exactly what this service can attest of its own keys
    _requiring(
        client,
        KeyAttestationRequirement(
            key_storage=("iso_18045_basic",), user_authentication=("iso_18045_basic",)
        ),
    )
    phone = Phone(client)
    phone.register()
    created = create_offer(client, "civil-registry", "national_id", CITIZEN)
    received = phone.receive(created["offer_uri"], custody="server")
    assert received["credentials"][0]["instances"] == 3


def test_no_attestation_where_the_issuer_asks_none(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    _, result = _accepted_on_the_phone(client, phone, "driving_licence")
    for request in result["signing_requests"]:
        assert "key_attestation" not in _header(request["signing_input"])


@pytest.mark.parametrize(
    ("custody", "requirement", "unmet"),
    [
        ("server", KeyAttestationRequirement(key_storage=("iso_18045_high",)), "key_storage"),
        (
            "server",
            KeyAttestationRequirement(user_authentication=("iso_18045_moderate",)),
            "user_authentication",
        ),
        ("device", KeyAttestationRequirement(key_storage=("iso_18045_basic",)), "key_storage"),
    ],
)
def test_levels_this_wallet_cannot_attest_are_refused_before_the_code_is_spent(
    client: TestClient[Any], custody: str, requirement: KeyAttestationRequirement, unmet: str
) -> None:
    _requiring(client, requirement)
    phone = Phone(client)
    phone.register()
    created = create_offer(client, "civil-registry", "national_id", CITIZEN)
    offer = phone.scan(created["offer_uri"]).json()["offer"]
    body: dict[str, Any] = {"custody": custody}
    if custody == "device":
        body["holder_keys"] = phone.new_holder_keys(offer["holder_keys_needed"])
    refused = phone.post(f"/wallet/offers/{offer['offer_id']}/accept", body)
    assert refused.status_code == 422, refused.text
    error = refused.json()
    assert error["error"] == "invalid_request"
    assert f"whose {unmet} this wallet cannot attest" in error["error_description"]
    # nothing was spent: once the agency asks for what this wallet attests, the same
    # offer goes through
    _requiring(client, KeyAttestationRequirement())
    assert phone.receive(created["offer_uri"])["status"] == "received"


def test_a_deployment_without_a_wallet_provider_says_so(client: TestClient[Any]) -> None:
    client.app.state.wallet = dataclasses.replace(client.app.state.wallet, wallet_provider=None)
    missing = client.get("/wallet/provider")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    phone = Phone(client)
    phone.register()
    created = create_offer(client, "civil-registry", "national_id", CITIZEN)
    offer = phone.scan(created["offer_uri"]).json()["offer"]
    refused = phone.post(f"/wallet/offers/{offer['offer_id']}/accept", {"custody": "server"})
    assert refused.status_code == 422, refused.text
    assert "no wallet provider" in refused.json()["error_description"]


def test_an_issuer_that_does_not_trust_the_provider_refuses_its_keys(
    client: TestClient[Any],
) -> None:
    context: IssuerContext = client.app.state.issuers
    client.app.state.issuers = dataclasses.replace(context, wallet_provider_anchors=())
    phone = Phone(client)
    phone.register()
    created = create_offer(client, "civil-registry", "national_id", CITIZEN)
    offer = phone.scan(created["offer_uri"]).json()["offer"]
    refused = phone.post(f"/wallet/offers/{offer['offer_id']}/accept", {"custody": "server"})
    assert refused.status_code == 400, refused.text
    error = refused.json()
    assert error["error"] == "invalid_proof"
    assert "no wallet provider is trusted" in error["error_description"]
    assert phone.get("/wallet/credentials").json()["credentials"] == []
