"""A citizen's whole story through the mobile API: register a phone, receive a national ID
from our agency, show it, present "over 18" and nothing else to the bar's counter, see it
all in the activity log. Both custody modes, both response modes."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
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
    assert consent["verifier"]["authenticated"] is True
    assert consent["satisfiable"] is True
    result = phone.approve(consent["presentation_id"])
    assert result["outcome"] == "accepted", result

    status = transaction_status(client, "bar-age-check", created["transaction_id"]).json()
    assert status["status"] == "verified", status
    activity = phone.get("/wallet/activity").json()["activity"]
    kinds = [a["kind"] for a in activity]
    assert kinds[0] == "presentation_sent" and "credential_received" in kinds
