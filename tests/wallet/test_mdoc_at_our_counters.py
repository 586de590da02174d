"""End to end, in one deployment: the citizen's wallet receives the national ID and the
mobile driving licence as ISO mdocs from our agencies and shows them at our counters
(OpenID4VP 1.0 Appendix B.2), keys held here or on the phone, plain and encrypted
responses. The bar's age check and the city hall's vehicle registration each take
either format (``credential_sets``); a wallet that holds only the mdoc answers with a
DeviceResponse, and the counter sees it verified with every check named. One offer of
both formats of the national ID fills the wallet with both."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.issuers.test_issuance import create_offer, operator_key
from tests.verifiers.presenter import create_request, transaction_status
from tests.wallet.phone import Phone

PID = "eu.europa.ec.eudi.pid.1"
MDL = "org.iso.18013.5.1"


def _holding(
    client: TestClient[Any], issuer: str, configuration: str, claims: Any, custody: str
) -> Phone:
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, issuer, configuration, claims)
    received = phone.receive(offer["offer_uri"], custody=custody)
    assert received["credentials"][0]["credential_configuration_id"] == configuration
    return phone


def _shown(
    client: TestClient[Any], phone: Phone, verifier: str, template: str, response_mode: str
) -> dict[str, Any]:
    created = create_request(client, verifier, template=template, response_mode=response_mode)
    consent = phone.scan(created["uri"]).json()["presentation"]
    assert consent["satisfiable"] is True, consent
    result = phone.approve(consent["presentation_id"])
    assert result["outcome"] == "accepted", result
    status = transaction_status(client, verifier, created["transaction_id"]).json()
    assert status["status"] == "verified", status
    result_body: dict[str, Any] = status["result"]
    return result_body


@pytest.mark.parametrize("custody", ["server", "device"])
@pytest.mark.parametrize("response_mode", ["direct_post", "direct_post.jwt"])
def test_the_pid_mdoc_proves_age_at_the_bar(
    client: TestClient[Any], custody: str, response_mode: str
) -> None:
    phone = _holding(client, "civil-registry", "national_id_mdoc", CITIZEN, custody)
    result = _shown(client, phone, "bar-age-check", "age_over_18", response_mode)
    [shown] = result["credentials"]["national_id_mdoc"]
    assert shown["format"] == "mso_mdoc" and shown["doctype"] == PID
    assert shown["claims"] == {PID: {"age_over_18": True}}  # and nothing else
    passed = {c["check"] for c in result["checks"] if c["passed"]}
    named = {
        f"national_id_mdoc: {c}" for c in ("issuer_signature", "digests", "device_auth", "status")
    }
    assert named <= passed, passed


def test_the_mobile_driving_licence_at_the_city_hall(client: TestClient[Any]) -> None:
    phone = _holding(client, "transport-agency", "mobile_driving_licence", DRIVER, "device")
    result = _shown(client, phone, "city-hall-counter", "driving_entitlement", "direct_post.jwt")
    [shown] = result["credentials"]["mobile_driving_licence"]
    elements = shown["claims"][MDL]
    assert set(elements) == {"given_name", "family_name", "driving_privileges"}
    assert (
        elements["driving_privileges"][0]["issue_date"]
        == (DRIVER["driving_privileges"][0]["issue_date"])
    )


def test_one_offer_fills_the_wallet_with_both_formats(client: TestClient[Any]) -> None:
    created = client.post(
        "/issuers/civil-registry/offers",
        json={
            "subject_id": "both-formats-e2e",
            "credential_configuration_id": "national_id",
            "claims": CITIZEN,
            "other_formats": ["national_id_mdoc"],
        },
        headers={"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"},
    )
    assert created.status_code == 201, created.text
    phone = Phone(client)
    phone.register()
    received = phone.receive(created.json()["offer_uri"], custody="device")
    assert sorted(c["credential_configuration_id"] for c in received["credentials"]) == [
        "national_id",
        "national_id_mdoc",
    ]
    listed = phone.get("/wallet/credentials").json()["credentials"]
    assert sorted(c["format"] for c in listed) == ["dc+sd-jwt", "mso_mdoc"]
    # the bar takes either: the first option the wallet can answer, the SD-JWT VC
    result = _shown(client, phone, "bar-age-check", "age_over_18", "direct_post")
    assert list(result["credentials"]) == ["national_id"]


def test_one_register_read_for_both_formats_is_listed_once(client: TestClient[Any]) -> None:
    """The registry reads its register once for an offer of both formats; both credential
    responses name that read, and the citizen's activity log lists it once."""
    created = client.post(
        "/issuers/civil-registry/offers",
        json={
            "subject_id": "demo-citizen",
            "credential_configuration_id": "national_id",
            "other_formats": ["national_id_mdoc"],
        },  # no claims: read from the register
        headers={"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"},
    )
    assert created.status_code == 201, created.text
    phone = Phone(client)
    phone.register()
    received = phone.receive(created.json()["offer_uri"])
    assert len(received["credentials"]) == 2
    activity = phone.get("/wallet/activity").json()["activity"]
    [read] = [entry for entry in activity if entry["kind"] == "register_read"]
    assert read["purpose"] == "issue_credential"
