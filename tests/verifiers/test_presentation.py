"""End to end: our issuer issues, a wallet written with other people's code presents, our
verifier checks (OpenID4VP 1.0 with DCQL, both response modes, cross- and same-device)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar.testing import TestClient

from core.keys.signer import SoftwareSigner
from tests.core.test_qr import decode_png_qr
from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.issuers.test_issuance import create_offer
from tests.issuers.wallet import Wallet
from tests.verifiers.presenter import (
    counter_key,
    create_request,
    disclose_for,
    fetch_request,
    present,
    respond,
    transaction_status,
)
from tests.verifiers.stand_in_issuer import ISSUER_ID, reference_credential


def issued(
    client: TestClient[Any], issuer_id: str = "civil-registry", claims: dict[str, Any] = CITIZEN
) -> tuple[str, SoftwareSigner]:
    configuration = "national_id" if issuer_id == "civil-registry" else "driving_licence"
    created = create_offer(client, issuer_id, configuration, claims)
    _, credentials, holders = Wallet(client).receive(created["offer_uri"])
    return credentials[0], holders[0]


def requested_paths(request_payload: dict[str, Any], query_id: str) -> list[list[Any]]:
    query = next(q for q in request_payload["dcql_query"]["credentials"] if q["id"] == query_id)
    return [c["path"] for c in query.get("claims", [])]


@pytest.mark.parametrize("response_mode", ["direct_post", "direct_post.jwt"])
def test_bar_checks_age_over_18_and_nothing_else(
    client: TestClient[Any], response_mode: str
) -> None:
    credential, holder = issued(client)
    created = create_request(
        client, "bar-age-check", template="age_over_18", response_mode=response_mode
    )
    assert created["status"] == "waiting"
    assert created["qr"]["svg_url"].endswith("/qr.svg") and created["uri"].startswith(
        "openid4vp://"
    )
    assert urlsplit(created["uri"]).scheme == "openid4vp"
    request = fetch_request(client, created["uri"])
    assert request.client_id.startswith("x509_san_dns:")
    assert request.payload["response_mode"] == response_mode
    paths = requested_paths(request.payload, "national_id")
    assert paths == [["age_over_18"]]
    status = transaction_status(client, "bar-age-check", created["transaction_id"]).json()
    assert status["status"] == "request_fetched"

    presentation = present(credential, holder, request, disclose_for(paths))
    response = respond(client, request, {"national_id": [presentation]})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"

    result = transaction_status(client, "bar-age-check", created["transaction_id"]).json()
    assert result["status"] == "verified", result
    proved = result["result"]["credentials"]["national_id"][0]
    assert proved["claims"] == {"age_over_18": True}
    checks = {c["check"]: c["passed"] for c in result["result"]["checks"]}
    for name in (
        "sd_jwt",
        "trust_chain",
        "issuer_signature",
        "disclosures",
        "freshness",
        "key_binding",
        "profile",
        "status",
        "dcql",
    ):
        assert checks[f"national_id: {name}"] is True
    assert checks["dcql"] is True


def test_city_hall_identity_and_address_by_post(client: TestClient[Any]) -> None:
    credential, holder = issued(client)
    for template in ("identity", "address"):
        created = create_request(
            client, "city-hall-counter", template=template, request_uri_method="post"
        )
        assert "request_uri_method=post" in created["uri"]
        request = fetch_request(client, created["uri"], wallet_nonce="wallet-nonce-1234")
        assert request.client_id.startswith("x509_hash:")
        paths = requested_paths(request.payload, "national_id")
        presentation = present(credential, holder, request, disclose_for(paths))
        response = respond(client, request, {"national_id": [presentation]})
        assert response.status_code == 200, response.text
        result = transaction_status(client, "city-hall-counter", created["transaction_id"]).json()
        assert result["status"] == "verified", result
        claims = result["result"]["credentials"]["national_id"][0]["claims"]
        if template == "identity":
            assert claims == {
                k: CITIZEN[k] for k in ("given_name", "family_name", "birthdate", "nationality")
            }
        else:
            assert claims == {"address": CITIZEN["address"]}


def test_driving_entitlement(client: TestClient[Any]) -> None:
    credential, holder = issued(client, "transport-agency", DRIVER)
    created = create_request(client, "city-hall-counter", template="driving_entitlement")
    request = fetch_request(client, created["uri"])
    paths = requested_paths(request.payload, "driving_licence")
    presentation = present(
        credential,
        holder,
        request,
        {"given_name": True, "family_name": True, "driving_privileges": [True, True]},
    )
    response = respond(client, request, {"driving_licence": [presentation]})
    assert response.status_code == 200, response.text
    result = transaction_status(client, "city-hall-counter", created["transaction_id"]).json()
    assert result["status"] == "verified", result
    claims = result["result"]["credentials"]["driving_licence"][0]["claims"]
    assert claims["driving_privileges"] == DRIVER["driving_privileges"]
    assert paths == [["given_name"], ["family_name"], ["driving_privileges"]]


def test_bank_identity_includes_the_document_number(client: TestClient[Any]) -> None:
    credential, holder = issued(client)
    created = create_request(client, "bank-kyc", template="identity")
    request = fetch_request(client, created["uri"])
    paths = requested_paths(request.payload, "national_id")
    assert ["document_number"] in paths
    response = respond(
        client,
        request,
        {"national_id": [present(credential, holder, request, disclose_for(paths))]},
    )
    assert response.status_code == 200, response.text
    result = transaction_status(client, "bank-kyc", created["transaction_id"]).json()
    assert (
        result["result"]["credentials"]["national_id"][0]["claims"]["document_number"]
        == (CITIZEN["document_number"])
    )


NATIONAL_ID_VCT = "https://id.example.gov/issuers/civil-registry/types/national_id"


def test_stand_in_issuer_made_by_the_reference_package(client: TestClient[Any]) -> None:
    """A credential from an independent issuer (its own anchor, the reference sd-jwt
    implementation), trusted through IDWALLET_TRUSTED_ISSUER_ANCHORS."""
    holder = Wallet(client).new_holder()
    credential = reference_credential(
        NATIONAL_ID_VCT, {"age_over_18": True, "given_name": "Ada"}, holder
    )
    created = create_request(client, "bar-age-check", template="age_over_18")
    request = fetch_request(client, created["uri"])
    response = respond(
        client,
        request,
        {"national_id": [present(credential, holder, request, {"age_over_18": True})]},
    )
    assert response.status_code == 200, response.text
    result = transaction_status(client, "bar-age-check", created["transaction_id"]).json()
    assert result["status"] == "verified"
    proved = result["result"]["credentials"]["national_id"][0]
    labels = proved.pop("claim_labels")  # from the Type Metadata its vct names
    assert [entry["path"] for entry in labels] == [["age_over_18"]]
    assert proved == {
        "vct": NATIONAL_ID_VCT,
        "iss": ISSUER_ID,
        "issuer_name": "Stand-in",  # the organization its certificate names
        "claims": {"age_over_18": True},
    }
    checks = {c["check"]: c for c in result["result"]["checks"]}
    assert checks["national_id: status"]["detail"] == "no status reference"


def test_same_device_result_is_released_once_to_the_starting_session(
    client: TestClient[Any],
) -> None:
    credential, holder = issued(client)
    created = create_request(client, "bar-age-check", template="age_over_18", same_device=True)
    assert created["same_device_link"] == created["uri"] and created["session_token"]
    request = fetch_request(client, created["uri"])
    response = respond(
        client,
        request,
        {"national_id": [present(credential, holder, request, {"age_over_18": True})]},
    )
    assert response.status_code == 200, response.text
    redirect = response.json()["redirect_uri"]
    landing, _, fragment = redirect.partition("#response_code=")
    assert fragment and landing.endswith(f"/presentations/{created['transaction_id']}/same-device")
    release = f"/verifiers/bar-age-check/presentations/{created['transaction_id']}/release"
    stolen = client.post(release, json={"response_code": fragment, "session_token": "guess"})
    assert stolen.status_code == 403
    released = client.post(
        release, json={"response_code": fragment, "session_token": created["session_token"]}
    )
    assert released.status_code == 200, released.text
    assert released.json()["result"]["credentials"]["national_id"][0]["claims"] == {
        "age_over_18": True
    }
    again = client.post(
        release, json={"response_code": fragment, "session_token": created["session_token"]}
    )
    assert again.status_code == 403


def test_server_sent_events_follow_the_transaction(client: TestClient[Any]) -> None:
    credential, holder = issued(client)
    created = create_request(client, "bar-age-check", template="age_over_18")
    request = fetch_request(client, created["uri"])
    response = respond(
        client,
        request,
        {"national_id": [present(credential, holder, request, {"age_over_18": True})]},
    )
    assert response.status_code == 200
    with client.stream(
        "GET",
        urlsplit(created["events_url"]).path,
        headers={"Authorization": f"Bearer {counter_key(client, 'bar-age-check')}"},
    ) as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        text = "".join(events.iter_text())
    assert "event: verified" in text and '"age_over_18":true' in text.replace(" ", "")


def test_request_object_names_the_relying_party_per_locale(client: TestClient[Any]) -> None:
    created = create_request(client, "city-hall-counter", template="identity")
    metadata = fetch_request(client, created["uri"]).payload["client_metadata"]
    assert metadata["client_name"] == "City Hall counter"
    assert metadata["client_name#de"] == "Bürgerbüro"
    assert metadata["vp_formats_supported"]["dc+sd-jwt"]["kb-jwt_alg_values"]


def test_request_qr_codes_read_back_to_the_uri(client: TestClient[Any]) -> None:
    created = create_request(client, "bar-age-check", template="age_over_18", qr_inline=True)
    headers = {"Authorization": f"Bearer {counter_key(client, 'bar-age-check')}"}
    svg = client.get(urlsplit(created["qr"]["svg_url"]).path, headers=headers)
    assert svg.status_code == 200 and svg.text == created["qr"]["svg"]
    png = client.get(urlsplit(created["qr"]["png_url"]).path, headers=headers)
    assert png.headers["content-type"] == "image/png"
    assert base64.b64decode(created["qr"]["png_base64"]) == png.content
    assert decode_png_qr(png.content) == created["uri"]
    assert client.get(urlsplit(created["qr"]["svg_url"]).path).status_code == 401


def test_a_request_s_qr_code_is_its_own_counter_s_alone(client: TestClient[Any]) -> None:
    """The worker that created a request draws its QR code without reading it again;
    another counter's key asking for it under its own name finds nothing, as from the
    database, and so does a request that was never made."""
    created = create_request(client, "bar-age-check", template="age_over_18")
    transaction_id = created["transaction_id"]
    own = {"Authorization": f"Bearer {counter_key(client, 'bar-age-check')}"}
    svg = client.get(urlsplit(created["qr"]["svg_url"]).path, headers=own)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    png = client.get(urlsplit(created["qr"]["png_url"]).path, headers=own)
    assert decode_png_qr(png.content) == created["uri"]
    other = {"Authorization": f"Bearer {counter_key(client, 'city-hall-counter')}"}
    stolen = client.get(
        f"/verifiers/city-hall-counter/presentations/{transaction_id}/qr.svg", headers=other
    )
    assert stolen.status_code == 404
    unknown = client.get(
        "/verifiers/bar-age-check/presentations/no-such-request/qr.svg", headers=own
    )
    assert unknown.status_code == 404
