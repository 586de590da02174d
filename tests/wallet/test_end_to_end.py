"""A citizen's whole story through the mobile API: register a phone, receive a national ID
from our agency, show it, present "over 18" and nothing else to the bar's counter, see it
all in the activity log. Both custody modes, both response modes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.issuers.test_issuance import create_offer, operator_key
from tests.verifiers.presenter import create_request, transaction_status
from tests.wallet.phone import Phone


@pytest.mark.parametrize("custody", ["server", "device"])
@pytest.mark.parametrize("response_mode", ["direct_post", "direct_post.jwt"])
def test_receive_then_prove_age_over_18(
    client: TestClient[Any], custody: str, response_mode: str
) -> None:
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN, tx_code=True)
    received = phone.receive(offer["offer_uri"], tx_code=offer["tx_code"], custody=custody)
    assert received["credentials"][0]["instances"] == 3  # a batch, one key each

    listed = phone.get("/wallet/credentials").json()["credentials"]
    assert [c["status"] for c in listed] == ["valid"]
    shown = phone.get(f"/wallet/credentials/{listed[0]['credential_id']}").json()
    assert shown["claims"]["given_name"] == CITIZEN["given_name"]

    created = create_request(
        client, "bar-age-check", template="age_over_18", response_mode=response_mode
    )
    scanned = phone.scan(created["uri"])
    assert scanned.status_code == 201, scanned.text
    consent = scanned.json()["presentation"]
    assert consent["verifier"]["authenticated"] is True and consent["verifier"]["registered"]
    assert consent["verifier"]["name"] == "Corner Bar"  # from its certificate
    assert consent["purpose"] == {
        "id": "age_over_18",
        "description": "Serving alcohol only to adults",
    }
    assert consent["satisfiable"] is True and consent["warnings"] == []
    result = phone.approve(consent["presentation_id"])
    assert result["outcome"] == "accepted", result

    status = transaction_status(client, "bar-age-check", created["transaction_id"]).json()
    assert status["status"] == "verified", status
    activity = phone.get("/wallet/activity").json()["activity"]
    kinds = [a["kind"] for a in activity]
    assert kinds[0] == "presentation_sent" and "credential_received" in kinds


def _holding_national_id(client: TestClient[Any], **offer: Any) -> Phone:
    phone = Phone(client)
    phone.register()
    created = create_offer(client, "civil-registry", "national_id", CITIZEN, **offer)
    phone.receive(created["offer_uri"])
    return phone


def test_same_device_with_post_request_uri(client: TestClient[Any]) -> None:
    phone = _holding_national_id(client)
    created = create_request(
        client,
        "city-hall-counter",
        template="identity",
        same_device=True,
        request_uri_method="post",
    )
    phone.language = "de"
    consent = phone.scan(created["uri"]).json()["presentation"]
    assert consent["purpose"]["description"] == "Feststellung Ihrer Identität am Schalter"
    assert consent["verifier"]["claimed_name"] == "Bürgerbüro"
    assert [c["name"] for c in consent["requests"][0]["claims"]][:2] == [
        "given_name",
        "family_name",
    ]
    assert all(c["optional"] is False for c in consent["requests"][0]["claims"])
    result = phone.approve(consent["presentation_id"])
    assert result["outcome"] == "accepted"
    assert "response_code=" in result["redirect_uri"]


def test_optional_claims_can_be_left_out(client: TestClient[Any]) -> None:
    phone = _holding_national_id(client)
    dcql = {
        "credentials": [
            {
                "id": "national_id",
                "format": "dc+sd-jwt",
                "meta": {
                    "vct_values": [
                        "https://id.example.gov/issuers/civil-registry/types/national_id"
                    ]
                },
                "claims": [
                    {"id": "given", "path": ["given_name"]},
                    {"id": "family", "path": ["family_name"]},
                    {"id": "born", "path": ["birthdate"]},
                ],
                "claim_sets": [["given", "family", "born"], ["given", "family"]],
            }
        ]
    }
    created = create_request(client, "city-hall-counter", dcql_query=dcql)
    consent = phone.scan(created["uri"]).json()["presentation"]
    optional = {c["name"]: c["optional"] for c in consent["requests"][0]["claims"]}
    assert optional == {"given_name": False, "family_name": False, "birthdate": True}
    refused = phone.post(
        f"/wallet/presentations/{consent['presentation_id']}/approve", {"omit": ["given_name"]}
    )
    assert refused.status_code == 400  # a claim the verifier cannot do without
    result = phone.approve(consent["presentation_id"], omit=["birthdate"])
    assert result["outcome"] == "accepted", result
    status = transaction_status(client, "city-hall-counter", created["transaction_id"]).json()
    shown = status["result"]["credentials"]["national_id"][0]["claims"]
    assert set(shown) == {"given_name", "family_name"}
    sent = phone.get("/wallet/activity").json()["activity"][0]
    assert sent["kind"] == "presentation_sent" and len(sent["shared"][0]["claims"]) == 2


def test_a_revoked_credential_is_shown_and_not_offered(client: TestClient[Any]) -> None:
    phone = _holding_national_id(client)
    revoked = client.post(
        "/issuers/civil-registry/credentials/revoke",
        json={"subject_id": "citizen-42"},
        headers={"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"},
    )
    assert revoked.status_code == 200, revoked.text
    listed = phone.get("/wallet/credentials").json()["credentials"]
    assert [c["status"] for c in listed] == ["revoked"]
    created = create_request(client, "bar-age-check", template="age_over_18")
    consent = phone.scan(created["uri"]).json()["presentation"]
    assert consent["satisfiable"] is False
    assert any(w.startswith("invalid_credentials") for w in consent["warnings"])
    refused = phone.post(f"/wallet/presentations/{consent['presentation_id']}/approve")
    assert refused.status_code == 400
    declined = phone.post(f"/wallet/presentations/{consent['presentation_id']}/decline")
    assert declined.json()["status"] == "declined"
    status = transaction_status(client, "bar-age-check", created["transaction_id"]).json()
    assert status["status"] == "failed"


def test_driving_licence_batch_and_entitlements(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, "transport-agency", "driving_licence", DRIVER)
    received = phone.receive(offer["offer_uri"], custody="device")
    assert received["credentials"][0]["instances"] == 3
    first = phone.get("/wallet/credentials").json()["credentials"][0]
    shown = phone.get(f"/wallet/credentials/{first['credential_id']}").json()
    assert shown["claims"]["driving_privileges"][1]["vehicle_category_code"] == "A"
    for _ in range(2):  # successive presentations rotate through the batch
        created = create_request(client, "city-hall-counter", template="driving_entitlement")
        consent = phone.scan(created["uri"]).json()["presentation"]
        assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"
    again = phone.get(f"/wallet/credentials/{first['credential_id']}").json()
    assert again["presentations"] == 2


def test_an_offer_used_already_is_reported_as_such(client: TestClient[Any]) -> None:
    """Not as temporarily_unavailable: the issuer is there, the offer is gone."""
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN)
    phone.receive(offer["offer_uri"])
    by_reference = phone.scan(offer["offer_uri"])
    assert by_reference.status_code == 410, by_reference.text
    assert by_reference.json()["error"] == "offer_unavailable"
    assert "used already or has expired" in by_reference.json()["error_description"]
    scanned = phone.scan(offer["offer_uri_by_value"])  # the code travels in the QR code
    assert scanned.status_code == 201, scanned.text
    accepted = phone.post(
        f"/wallet/offers/{scanned.json()['offer']['offer_id']}/accept", {"custody": "server"}
    )
    assert accepted.status_code == 410 and accepted.json()["error"] == "offer_unavailable"


def test_a_request_answered_already_is_reported_as_such(client: TestClient[Any]) -> None:
    """Found by the contract fuzz (scan): the verifier refusing to serve the request object
    again (answered, expired or unknown) is no 502 ``temporarily_unavailable`` that a phone
    would retry, but 410 ``request_unavailable``: the counter can show a new code."""
    phone = Phone(client)
    phone.register()
    created = create_request(client, "bar-age-check", template="age_over_18")
    scanned = phone.scan(created["uri"])
    assert scanned.status_code == 201, scanned.text
    declined = phone.post(
        f"/wallet/presentations/{scanned.json()['presentation']['presentation_id']}/decline"
    )
    assert declined.status_code == 200, declined.text
    again = phone.scan(created["uri"])
    assert again.status_code == 410, again.text
    assert again.json()["error"] == "request_unavailable"
    assert "new" in again.json()["error_description"]


def test_the_activity_kinds_the_document_names_are_the_wallets_own() -> None:
    """Each kind of entry is one schema of the document, named by its ``kind``."""
    from app.openapi_document import render_openapi
    from wallet.domain import ActivityKind

    schemas = json.loads(render_openapi())["components"]["schemas"]
    entries = schemas["ActivityLog"]["properties"]["activity"]["items"]["oneOf"]
    kinds = {
        schemas[entry["$ref"].rsplit("/", 1)[1]]["properties"]["kind"]["const"] for entry in entries
    }
    assert kinds == {kind.value for kind in ActivityKind}
