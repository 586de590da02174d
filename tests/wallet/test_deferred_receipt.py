"""Our wallet holds a credential the issuer defers (OpenID4VCI 1.0 §9): the transport
agency's professional driving licence waits for a clerk's approval. The wallet keeps the
issuance pending, lists it, asks again on demand and by its poller when the agency's
``interval`` has passed (the access DPoP nonce renewed when the one kept has expired),
stores the licence when it arrives and tells the activity log; a refused application
ends the issuance."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from app.settings import Settings
from core.clock import SYSTEM_CLOCK, FixedClock
from tests.issuers.test_issuance import operator_key
from tests.wallet.phone import Phone
from tests.wallet.test_authorization_code import (
    TRANSPORT,
    _browse,
    _start,
)
from wallet.services.poll_deferred import DeferredPoller

APPLICATIONS = "/issuers/transport-agency/applications"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, with the test authenticator: every citizen is demo-citizen."""
    return dataclasses.replace(settings, test_citizen="demo-citizen")


def _clerk(client: TestClient[Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {operator_key(client, 'transport-agency')}"}


def _applied(client: TestClient[Any], custody: str = "server") -> tuple[Phone, dict[str, Any]]:
    phone = Phone(client)
    phone.register()
    body: dict[str, Any] = {"custody": custody}
    if custody == "device":
        body["holder_keys"] = phone.new_holder_keys(3)
    outcome = _start(phone, TRANSPORT, "professional_driving_licence", **body)
    answered = phone.post(
        "/wallet/issuances/authorized",
        {"redirect_url": _browse(client, outcome["authorization_url"])},
    )
    assert answered.status_code == 200, answered.text
    result: dict[str, Any] = answered.json()
    if result["status"] == "proofs_needed":
        completed = phone.post(
            f"/wallet/offers/{outcome['offer_id']}/complete",
            {"signatures": phone.sign_requests(result["signing_requests"])},
        )
        assert completed.status_code == 200, completed.text
        result = completed.json()
    return phone, result


def _application(client: TestClient[Any]) -> str:
    listed = client.get(APPLICATIONS, params={"state": "pending"}, headers=_clerk(client))
    [application] = listed.json()["applications"]
    return str(application["application_id"])


@pytest.mark.parametrize("custody", ["server", "device"])
def test_the_licence_arrives_once_the_clerk_approves(client: TestClient[Any], custody: str) -> None:
    phone, result = _applied(client, custody)
    assert result["status"] == "pending" and result["credentials"] == []
    [pending] = result["pending"]
    assert pending["credential_configuration_id"] == "professional_driving_licence"
    assert pending["name"] == "Professional driving licence"

    listed = phone.get("/wallet/issuances").json()["issuances"]
    assert [i["issuance_id"] for i in listed] == [result["offer_id"]]
    assert listed[0]["issuer"] == TRANSPORT and listed[0]["issuer_name"] == "Transport Agency"

    asked = phone.post(f"/wallet/issuances/{result['offer_id']}/fetch")
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "pending"  # no clerk has decided yet

    approved = client.post(f"{APPLICATIONS}/{_application(client)}/approve", headers=_clerk(client))
    assert approved.status_code == 200, approved.text
    arrived = phone.post(f"/wallet/issuances/{result['offer_id']}/fetch")
    assert arrived.status_code == 200, arrived.text
    assert arrived.json()["status"] == "received"
    [credential] = arrived.json()["credentials"]
    assert credential["credential_configuration_id"] == "professional_driving_licence"
    assert phone.get("/wallet/issuances").json() == {"issuances": []}
    kinds = [e["kind"] for e in phone.get("/wallet/activity").json()["activity"]]
    assert kinds[0] == "credential_received"


def test_the_pollers_pass_fetches_what_is_due_an_hour_later(
    client: TestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    phone, _ = _applied(client)
    client.post(f"{APPLICATIONS}/{_application(client)}/approve", headers=_clerk(client))
    context = client.app.state.wallet
    issuers = client.app.state.issuers
    wallet_clock = context.clock
    # an hour later: the deferral is due, and the agency's DPoP nonce the wallet kept has
    # expired (the agency keeps the application by its access token, however old)
    later = FixedClock(wallet_clock.now() + 3600)
    context.clock = later
    client.app.state.issuers = dataclasses.replace(issuers, clock=later)
    caplog.clear()
    try:
        with client.portal() as portal:
            arrived = portal.call(DeferredPoller(context).poll)
    finally:
        context.clock = wallet_clock
        client.app.state.issuers = issuers
    assert arrived == 1
    asked = [r.getMessage() for r in caplog.records if r.name == "idwallet.access"]
    # the stale nonce is refused once, the fresh one taken
    assert [line.split()[1:3] for line in asked[:2]] == [
        ["/issuers/{issuer_id}/deferred_credential", "401"],
        ["/issuers/{issuer_id}/deferred_credential", "200"],
    ], asked
    listed = phone.get("/wallet/credentials").json()["credentials"]
    assert [c["name"] for c in listed] == ["Professional driving licence"]


def test_a_refused_application_ends_the_issuance(client: TestClient[Any]) -> None:
    phone, result = _applied(client)
    client.post(
        f"{APPLICATIONS}/{_application(client)}/refuse",
        json={"reason": "not today"},
        headers=_clerk(client),
    )
    refused = phone.post(f"/wallet/issuances/{result['offer_id']}/fetch")
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "credential_request_denied"
    assert phone.get("/wallet/issuances").json() == {"issuances": []}
    [entry] = [
        e
        for e in phone.get("/wallet/activity").json()["activity"]
        if e["kind"] == "issuance_refused"
    ]
    assert entry["error"] == "credential_request_denied" and entry["refused_by"] == "issuer"
    assert phone.get("/wallet/credentials").json()["credentials"] == []


class _ShiftedClock:
    """The system clock, moved on when the test says: the time the issuer's ``interval``
    takes to pass, passed at once."""

    def __init__(self) -> None:
        self.shift = 0.0

    def now(self) -> float:
        return SYSTEM_CLOCK.now() + self.shift


def _wait_until(arrived: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not arrived():
        assert time.monotonic() < deadline, "not arrived in time"
        time.sleep(0.05)


def test_the_poller_fetches_at_the_issuers_interval(client: TestClient[Any]) -> None:
    """The agency defers with ``interval: 5``: once a clerk approved and those 5 seconds
    passed, the worker's poller collects the licence, nobody asking for it, and the
    activity log tells the citizen."""
    context = client.app.state.wallet
    issuers = client.app.state.issuers
    transport = issuers.agencies["transport-agency"]
    clock = _ShiftedClock()
    client.app.state.issuers = dataclasses.replace(
        issuers,
        clock=clock,
        agencies={
            **issuers.agencies,
            "transport-agency": dataclasses.replace(
                transport,
                deferred_issuance=dataclasses.replace(transport.deferred_issuance, interval=5),
            ),
        },
    )
    context.clock = clock
    # the poller wakes when the issuance goes pending, then never sleeps longer than this
    context.policy = dataclasses.replace(
        context.policy, deferred_poll_longest=0.2, deferred_poll_shortest=0.05
    )

    phone, result = _applied(client)
    [pending] = result["pending"]
    assert pending["next_check_at"] - clock.now() <= 5
    approved = client.post(f"{APPLICATIONS}/{_application(client)}/approve", headers=_clerk(client))
    assert approved.status_code == 200, approved.text
    assert phone.get("/wallet/credentials").json()["credentials"] == []  # not due yet

    clock.shift = 5.0  # the agency's interval has passed
    _wait_until(lambda: bool(phone.get("/wallet/credentials").json()["credentials"]))

    [credential] = phone.get("/wallet/credentials").json()["credentials"]
    assert credential["name"] == "Professional driving licence"
    assert phone.get("/wallet/issuances").json() == {"issuances": []}
    [told] = [
        e
        for e in phone.get("/wallet/activity").json()["activity"]
        if e["kind"] == "credential_received"
    ]
    assert told["credential_id"] == credential["credential_id"]
