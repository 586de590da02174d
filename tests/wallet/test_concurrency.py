"""Two taps at once, on SQLite and PostgreSQL: of concurrent approvals of one request,
exactly one presentation is sent; of concurrent acceptances of one offer, exactly one
credential is stored."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from litestar.testing import TestClient

from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.verifiers.presenter import create_request, transaction_status
from tests.wallet.phone import Phone

CONCURRENT = 6


def _at_once(client: TestClient[Any], phone: Phone, path: str, body: dict[str, Any]) -> list[int]:
    async def send(app: Any) -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as http:
            responses = await asyncio.gather(
                *(http.post(path, json=body, headers=phone.headers) for _ in range(CONCURRENT))
            )
        return [r.status_code for r in responses]

    statuses: list[int] = client.blocking_portal.call(send, client.app)
    return statuses


def test_one_approval_is_sent(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    phone.receive(create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"])
    created = create_request(client, "bar-age-check", template="age_over_18")
    consent = phone.scan(created["uri"]).json()["presentation"]
    statuses = _at_once(
        client, phone, f"/wallet/presentations/{consent['presentation_id']}/approve", {}
    )
    assert sorted(statuses) == [200] + [400] * (CONCURRENT - 1)
    status = transaction_status(client, "bar-age-check", created["transaction_id"]).json()
    assert status["status"] == "verified"
    sent = [
        a
        for a in phone.get("/wallet/activity").json()["activity"]
        if a["kind"] == "presentation_sent"
    ]
    assert len(sent) == 1


def test_one_acceptance_is_stored(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN)
    scanned = phone.scan(offer["offer_uri"]).json()["offer"]
    statuses = _at_once(
        client, phone, f"/wallet/offers/{scanned['offer_id']}/accept", {"custody": "server"}
    )
    assert sorted(statuses) == [200] + [400] * (CONCURRENT - 1)
    assert len(phone.get("/wallet/credentials").json()["credentials"]) == 1
