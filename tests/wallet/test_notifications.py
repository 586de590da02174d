"""The citizen is told (``GET /wallet/notifications``, the activity log) when a device is
added, when a deferred credential arrives, and, by the status-list watching, when a held
credential is revoked, suspended, reinstated, expires soon or expired; on SQLite and
PostgreSQL. Each watched list is fetched once per its ``ttl`` whatever the number of
credentials referencing it, and a pass finds the credentials concerned through the keyed
watch index alone."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select, update

from app.notification_settings import NotificationSettings
from app.settings import Settings
from core.clock import SYSTEM_CLOCK
from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.issuers.test_issuance import create_offer, operator_key
from tests.wallet.phone import Phone
from tests.wallet.test_deferred_receipt import _application, _applied, _clerk
from wallet.services.context import WalletContext
from wallet.services.notification_hub import NotificationHub, TooManyStreams
from wallet.services.watch_statuses import StatusWatcher, WatchReport, watch_pass
from wallet.storage.notification_tables import (
    CredentialWatchRow,
    NotificationRow,
    StatusListRow,
    StatusWatchRow,
)

CIVIL = "/issuers/civil-registry/credentials"
TRANSPORT = "/issuers/transport-agency/credentials"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Own lists asked for at every use (no revalidation window hides a change between
    two passes); the app's own watching pass runs at start only (the tests run theirs);
    every citizen at an authorization endpoint is demo-citizen."""
    return dataclasses.replace(
        settings,
        status_list_revalidate=0,
        test_citizen="demo-citizen",
        notifications=NotificationSettings(watch_every=3600),
    )


def _context(client: TestClient[Any]) -> WalletContext:
    context: WalletContext = client.app.state.wallet
    return context


def _pass(client: TestClient[Any]) -> WatchReport:
    report: WatchReport = client.blocking_portal.call(watch_pass, _context(client))
    return report


def _rows(client: TestClient[Any], table: Any) -> list[Any]:
    async def read() -> list[Any]:
        async with client.app.state.deployment.sessions() as session:
            return list((await session.execute(select(table))).scalars())

    rows: list[Any] = client.blocking_portal.call(read)
    return rows


def _lists_due_now(client: TestClient[Any]) -> None:
    """As if each list's ttl had passed."""

    async def due() -> None:
        async with client.app.state.deployment.sessions.begin() as session:
            await session.execute(update(StatusListRow).values(next_fetch_at=0.0))

    client.blocking_portal.call(due)


def _operator(client: TestClient[Any], path: str, subject: str) -> None:
    issuer = path.split("/")[2]
    answer = client.post(
        path,
        json={"subject_id": subject},
        headers={"Authorization": f"Bearer {operator_key(client, issuer)}"},
    )
    assert answer.status_code == 200, answer.text


def _feed(phone: Phone, **query: Any) -> dict[str, Any]:
    answer = phone.client.get("/wallet/notifications", params=query, headers=phone.headers)
    assert answer.status_code == 200, answer.text
    feed: dict[str, Any] = answer.json()
    return feed


def test_a_device_added_is_told_read_and_paged(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    assert _feed(phone) == {"notifications": [], "unread": 0}
    for name in ("tablet", "laptop"):
        added = client.post(
            "/wallet/devices",
            json={"device_proof": Phone(client).proof(by_kid=False), "device_name": name},
            headers=phone.headers,
        )
        assert added.status_code == 201, added.text
    feed = _feed(phone)
    assert feed["unread"] == 2
    assert [n["kind"] for n in feed["notifications"]] == ["device_added", "device_added"]
    newest = feed["notifications"][0]
    assert set(newest) == {"notification_id", "at", "kind", "unread", "device_id"}
    assert newest["unread"] is True

    first = _feed(phone, limit=1)
    assert len(first["notifications"]) == 1 and first["next_before"]
    second = _feed(phone, limit=1, before=first["next_before"])
    assert "next_before" not in second
    assert [n["notification_id"] for n in first["notifications"] + second["notifications"]] == [
        n["notification_id"] for n in feed["notifications"]
    ]

    read = phone.post(f"/wallet/notifications/{newest['notification_id']}/read")
    assert read.status_code == 200 and read.json()["unread"] is False
    assert _feed(phone)["unread"] == 1

    stranger = Phone(client)
    stranger.register()
    foreign = stranger.post(f"/wallet/notifications/{newest['notification_id']}/read")
    assert foreign.status_code == 404 and foreign.json()["error"] == "not_found"
    assert _feed(stranger, before=newest["notification_id"])["notifications"] == []

    assert phone.post("/wallet/notifications/read-all").json() == {"marked": 1, "unread": 0}
    bad = phone.client.get("/wallet/notifications?limit=0", headers=phone.headers)
    assert bad.status_code == 400
    unknown = phone.client.get("/wallet/notifications?holder=x", headers=phone.headers)
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_request"
    # sealed: only the kind, the time and the read time are in the clear
    stored = _rows(client, NotificationRow)
    assert all(phone.device_id not in repr(row.sealed) for row in stored)


def test_status_changes_are_told_once_each_list_fetched_once_per_ttl(
    client: TestClient[Any],
) -> None:
    phone = Phone(client)
    phone.register()
    for subject in ("citizen-42", "citizen-43"):  # two national IDs on the agency's list
        phone.receive(
            create_offer(client, "civil-registry", "national_id", CITIZEN, subject=subject)[
                "offer_uri"
            ]
        )
    phone.receive(
        create_offer(client, "transport-agency", "driving_licence", DRIVER)["offer_uri"],
        custody="device",
    )
    # the index: one keyed row per instance, nothing naming a list or an index
    watches = _rows(client, StatusWatchRow)
    assert len(watches) == 3 + 3 + 3  # batches of three
    lists = _rows(client, StatusListRow)
    assert len(lists) == 2
    assert {len(row.watch_key) for row in watches} == {64}
    assert set(StatusWatchRow.__table__.columns.keys()) == {
        "watch_key",
        "credential_id",
        "account_id",
    }

    first = _pass(client)
    assert (first.lists_checked, first.notified) == (2, 0)
    again = _pass(client)  # within every list's ttl: nothing is fetched
    assert again.lists_checked == 0
    for row in _rows(client, StatusListRow):
        assert row.fetches == 1
        assert row.next_fetch_at - row.fetched_at == pytest.approx(300, abs=1)  # the ttl

    _operator(client, f"{CIVIL}/revoke", "citizen-42")
    _operator(client, f"{TRANSPORT}/suspend", "citizen-42")
    _lists_due_now(client)
    changed = _pass(client)
    assert (changed.lists_checked, changed.lists_changed) == (2, 2)
    assert changed.kinds == {"revoked": 1, "suspended": 1}
    feed = _feed(phone)
    assert feed["unread"] == 2
    told = {n["kind"]: n for n in feed["notifications"]}
    assert told["revoked"]["credential"] == "National identity card"
    assert told["revoked"]["issuer"].endswith("/issuers/civil-registry")
    assert told["suspended"]["credential"] == "Driving licence"
    revoked_id = told["revoked"]["credential_id"]
    listed = {
        c["credential_id"]: c["status"]
        for c in phone.get("/wallet/credentials").json()["credentials"]
    }
    assert listed[revoked_id] == "revoked"
    kinds = [e["kind"] for e in phone.get("/wallet/activity").json()["activity"]]
    assert {"credential_revoked", "credential_suspended"} <= set(kinds[:2])

    _lists_due_now(client)
    assert _pass(client).notified == 0  # nothing changed since: nothing told again
    _operator(client, f"{TRANSPORT}/unsuspend", "citizen-42")
    _lists_due_now(client)
    reinstated = _pass(client)
    assert reinstated.kinds == {"reinstated": 1}
    assert _feed(phone)["notifications"][0]["kind"] == "reinstated"
    # four passes that fetched: each list four times, however many credentials it serves
    assert sorted(row.fetches for row in _rows(client, StatusListRow)) == [4, 4]

    # deleting the credential removes its watch rows; erasing the account removes the rest
    assert phone.delete(f"/wallet/credentials/{revoked_id}").status_code == 200
    assert len(_rows(client, StatusWatchRow)) == 3 + 3
    assert phone.delete("/wallet/account").status_code in (200, 204)
    assert _rows(client, StatusWatchRow) == [] and _rows(client, NotificationRow) == []
    assert _rows(client, CredentialWatchRow) == []


def test_credentials_stored_before_the_watching_are_indexed(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    phone.receive(create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"])

    async def forget_the_index() -> None:
        async with client.app.state.deployment.sessions.begin() as session:
            for table in (StatusWatchRow, CredentialWatchRow, StatusListRow):
                await session.execute(table.__table__.delete())  # type: ignore[attr-defined]

    client.blocking_portal.call(forget_the_index)
    _operator(client, f"{CIVIL}/revoke", "citizen-42")
    report = _pass(client)
    # indexed, then its list compared with one of valid entries: the revocation is told
    assert (report.indexed, report.lists_checked, report.notified) == (1, 1, 1)
    assert _feed(phone)["notifications"][0]["kind"] == "revoked"


def test_expiry_is_told_ahead_and_at_the_end(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    phone.receive(create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"])
    [watch] = _rows(client, CredentialWatchRow)
    assert watch.due_at == pytest.approx(watch.expires_at - 30 * 86400)
    context = _context(client)

    class Later:
        def __init__(self, at: float) -> None:
            self.at = at

        def now(self) -> float:
            return self.at

    def notices(at: float) -> int:
        context.clock = Later(at)
        watcher = StatusWatcher(context)
        client.blocking_portal.call(watcher.expiry_notices)
        return watcher.report.expiry_notices

    try:
        assert notices(watch.due_at - 60) == 0
        assert notices(watch.due_at + 60) == 1
        assert notices(watch.due_at + 120) == 0  # told once
        assert notices(watch.expires_at + 1) == 1
        assert notices(watch.expires_at + 86400) == 0
    finally:
        context.clock = SYSTEM_CLOCK
    kinds = [n["kind"] for n in _feed(phone)["notifications"]]
    assert kinds == ["expired", "expiring_soon"]
    # the index keeps the day the credential expires; the notice tells its exp itself
    told_exp = _feed(phone)["notifications"][0]["expires_at"]
    assert watch.expires_at % 86400 == 0 and 0 <= watch.expires_at - told_exp < 86400
    activity = [e["kind"] for e in phone.get("/wallet/activity").json()["activity"]]
    assert activity[:2] == ["credential_expired", "credential_expiring_soon"]


def test_a_deferred_credential_that_arrives_is_told(client: TestClient[Any]) -> None:
    phone, result = _applied(client)
    assert result["status"] == "pending"
    approved = client.post(
        f"/issuers/transport-agency/applications/{_application(client)}/approve",
        headers=_clerk(client),
    )
    assert approved.status_code == 200, approved.text
    arrived = phone.post(f"/wallet/issuances/{result['offer_id']}/fetch").json()
    [credential] = arrived["credentials"]
    [told] = _feed(phone)["notifications"]
    assert told["kind"] == "deferred_ready"
    assert told["credential_id"] == credential["credential_id"]
    assert told["credential"] == "Professional driving licence"
    assert told["issuer_name"] == "Transport Agency"


def test_one_worker_at_a_time_holds_the_watching(client: TestClient[Any]) -> None:
    store = _context(client).store.status_watching
    now = time.time()

    def lease(holder: str, at: float) -> bool:
        held: bool = client.blocking_portal.call(store.lease, "lease-test", holder, at, 60.0)
        return held

    assert lease("worker-a", now)
    assert not lease("worker-b", now + 1)
    assert lease("worker-a", now + 30)  # renewed by its holder
    assert not lease("worker-b", now + 89)
    assert lease("worker-b", now + 91)  # lapsed: taken over
    assert not lease("worker-a", now + 92)


def test_the_stream_refuses_what_it_cannot_serve(client: TestClient[Any]) -> None:
    """What it sends: ``test_notification_stream``."""
    phone = Phone(client)
    phone.register()
    refused = client.get("/wallet/notifications/stream?wait=0", headers=phone.headers)
    assert refused.status_code == 400
    unknown = client.get("/wallet/notifications/stream?since=1", headers=phone.headers)
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_request"
    assert client.get("/wallet/notifications/stream").status_code == 401


def test_streams_are_bounded_per_citizen_and_per_worker() -> None:
    hub = NotificationHub(max_streams=6, streams_per_account=5)
    opened = [hub.open_stream("citizen-a") for _ in range(5)]
    with pytest.raises(TooManyStreams):
        hub.open_stream("citizen-a")
    hub.open_stream("citizen-b")
    with pytest.raises(TooManyStreams):
        hub.open_stream("citizen-c")
    hub.close_stream(opened[0])
    hub.open_stream("citizen-c")
    assert hub.open_streams == 6


def test_a_pass_stops_where_the_lease_was_taken_over(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    phone.receive(create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"])

    async def taken_over() -> bool:
        return False

    stopped: WatchReport = client.blocking_portal.call(watch_pass, _context(client), taken_over)
    assert stopped.lists_checked == 0
    assert _pass(client).lists_checked == 1  # the worker holding it goes on


def test_the_watch_key_is_required(client: TestClient[Any]) -> None:
    with pytest.raises(ValueError, match="watch_secret"):
        dataclasses.replace(_context(client), watch_secret=b"")


def test_the_watching_waits_for_room_among_the_pushes_instead_of_dropping() -> None:
    async def run() -> list[int]:
        hub = NotificationHub(max_pushes=2)
        release = asyncio.Event()
        done: list[int] = []

        async def delivery(number: int) -> None:
            await release.wait()
            done.append(number)

        for number in range(2):
            await hub.queue(delivery(number))
        third = asyncio.create_task(hub.queue(delivery(2)))
        await asyncio.sleep(0)
        assert not third.done()  # both places taken: it waits, nothing is left out
        release.set()
        await third
        await hub.drain()
        return sorted(done)

    assert asyncio.run(run()) == [0, 1, 2]
