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

    def received() -> list[dict[str, Any]]:
        entries = phone.get("/wallet/activity").json()["activity"]
        return [e for e in entries if e["kind"] == "credential_received"]

    # the poller stores the credential, then logs it: the entry follows within its pass
    _wait_until(lambda: bool(received()))
    [told] = received()
    assert told["credential_id"] == credential["credential_id"]


def _approved_then_expired(client: TestClient[Any]) -> tuple[Phone, str, str]:
    """An application approved once the access token of its request has expired: the
    wallet and the agency an hour on (the agency's access tokens live 5 minutes). The
    phone, the issuance's id and the application's."""
    context = client.app.state.wallet
    issuers = client.app.state.issuers
    clock = _ShiftedClock()
    client.app.state.issuers = dataclasses.replace(issuers, clock=clock)
    context.clock = clock
    # the app's own poller stays asleep: these tests ask the agency themselves, and the
    # poller asking about the same issuance at that moment would find it busy
    context.policy = dataclasses.replace(
        context.policy, deferred_poll_shortest=86400.0, deferred_poll_longest=86400.0
    )
    phone, result = _applied(client)
    clock.shift = 3600.0
    assert clock.shift > issuers.policy.access_token_lifetime
    application_id = _application(client)
    approved = client.post(f"{APPLICATIONS}/{application_id}/approve", headers=_clerk(client))
    assert approved.status_code == 200, approved.text
    return phone, str(result["offer_id"]), application_id


def _asked(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The agency's endpoints the wallet asked, with the answers' status codes."""
    lines = [r.getMessage().split() for r in caplog.records if r.name == "idwallet.access"]
    return [
        f"{path.rsplit('/', 1)[-1]} {status}"
        for _, path, status, *_ in lines
        if "/issuers/" in path
    ]


def test_an_expired_access_token_still_collects_the_licence(
    client: TestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Our agencies keep an application by the access token of its request for as long as
    the application lives (``deferred_issuance``), expired or not: the wallet collects
    with it and has no need of its refresh token."""
    phone, offer_id, _ = _approved_then_expired(client)
    caplog.clear()
    arrived = phone.post(f"/wallet/issuances/{offer_id}/fetch")
    assert arrived.status_code == 200, arrived.text
    assert arrived.json()["status"] == "received"
    # the DPoP nonce the wallet kept is an hour old: asked once more with a fresh one
    assert _asked(caplog) == [
        "deferred_credential 401",
        "deferred_credential 200",
        "notification 204",
    ]


def _withdrawn(client: TestClient[Any], application_id: str) -> str:
    """The agency withdraws the application, as it does when its access token is revoked
    (a replayed authorization code): its token is ``invalid_token`` from now on. Its
    citizen's subject id at the agency."""
    issuers = client.app.state.issuers
    with client.portal() as portal:
        application = portal.call(issuers.applications.get, "transport-agency", application_id)
        assert application is not None
        assert portal.call(
            issuers.applications.withdraw_for_offer, application.offer_id, issuers.clock.now()
        )
    return str(application.subject_id)


def _refused(phone: Phone, offer_id: str) -> dict[str, Any]:
    refused = phone.post(f"/wallet/issuances/{offer_id}/fetch")
    assert refused.status_code >= 400, refused.text
    assert phone.get("/wallet/issuances").json() == {"issuances": []}
    assert phone.get("/wallet/credentials").json()["credentials"] == []
    [entry] = [
        e
        for e in phone.get("/wallet/activity").json()["activity"]
        if e["kind"] == "issuance_refused"
    ]
    assert entry["refused_by"] == "issuer"
    assert entry["credentials"] == ["Professional driving licence"]
    return dict(entry)


def test_a_refused_access_token_is_renewed_once_and_a_refusal_ends_the_issuance(
    client: TestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The agency refuses the access token (``invalid_token``): the wallet renews it with
    its refresh token, as the wallet instance (attestation) with the issuance's DPoP key,
    and asks once more; refused again, the issuance ends refused, nothing is stored."""
    phone, offer_id, application_id = _approved_then_expired(client)
    _withdrawn(client, application_id)
    caplog.clear()
    entry = _refused(phone, offer_id)
    assert entry["error"] == "invalid_token"
    assert _asked(caplog) == [
        "deferred_credential 401",  # the kept DPoP nonce is an hour old: a fresh one
        "deferred_credential 401",  # invalid_token
        # the authorization server's own nonce (RFC 9449 §8) is an hour old too
        "token 400",
        "token 200",  # renewed: the attestation and the DPoP proof were taken
        "deferred_credential 401",  # the renewed token: not the application's either
    ]


def test_a_refused_renewal_ends_the_issuance(client: TestClient[Any]) -> None:
    """The access token refused and the refresh tokens of the citizen ended by the agency
    (a revocation at the desk): the renewal is refused (``invalid_grant``) and the
    issuance ends refused in the activity log, nothing stored."""
    phone, offer_id, application_id = _approved_then_expired(client)
    subject_id = _withdrawn(client, application_id)
    revoked = client.post(
        "/issuers/transport-agency/credentials/revoke",
        json={"subject_id": subject_id, "reason": "licence withdrawn"},
        headers=_clerk(client),
    )
    # no licence issued yet to revoke, but the citizen's refresh tokens end all the same
    assert revoked.status_code == 404, revoked.text
    entry = _refused(phone, offer_id)
    assert entry["error"] == "invalid_grant"
