"""The oversight API over HTTP, on SQLite and PostgreSQL: an auditor registered with
``idwallet auditor add`` reads the figures of a period with its key; small counts are
suppressed; the read is appended to the audit trail; bad periods and keys are refused with
problem details."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select, text

from app import create_app
from app.cli import main
from app.settings import Settings
from core.clock import FixedClock
from core.storage.audit_trail import AuditEntryRow, SqlAuditTrail
from core.storage.engine import create_engine, session_factory
from tests.conftest import migrated_database
from tests.oversight.entries import MARCH_FIRST, realistic_mix

SUPPRESSED = "suppressed"


async def _seed(url: str) -> None:
    engine = create_engine(url)
    clock = FixedClock(MARCH_FIRST)
    trail = SqlAuditTrail(session_factory(engine), clock.now)
    try:
        for at, entry in realistic_mix():
            clock.at = at
            await trail.append(entry)
    finally:
        await engine.dispose()


async def _entries(url: str, action: str) -> list[tuple[str, str, str, str | None]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(
                    AuditEntryRow.actor_kind,
                    AuditEntryRow.actor,
                    AuditEntryRow.facts,
                    AuditEntryRow.subject_key,
                ).where(AuditEntryRow.action == action)
            )
            return [(r[0], r[1], r[2], r[3]) for r in rows]
    finally:
        await engine.dispose()


def add_auditor(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, var: Path
) -> str:
    monkeypatch.setenv("IDWALLET_DATABASE_URL", url)
    monkeypatch.setenv("IDWALLET_VAR_DIR", str(var))
    assert main(["auditor", "add", "dpa", "--name", "Data Protection Authority"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["auditor_id"] == "dpa"
    key: str = added["auditor_key"]
    return key


@pytest.fixture
def url(database_url: str) -> str:
    migrated = migrated_database(database_url)
    asyncio.run(_seed(migrated))
    return migrated


def _client(var_dir: Path, url: str, **settings: Any) -> TestClient[Any]:
    return TestClient(app=create_app(Settings(var_dir=var_dir, database_url=url, **settings)))


@pytest.fixture
def client(var_dir: Path, url: str) -> Iterator[TestClient[Any]]:
    with _client(var_dir, url) as client:
        yield client


MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def test_the_figures_of_a_month_small_counts_suppressed(
    client: TestClient[Any],
    url: str,
    var_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = add_auditor(monkeypatch, capsys, url, var_dir)
    answer = client.get("/oversight/api/figures", params=MARCH, headers=_bearer(key))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    figures = answer.json()
    assert (figures["from"], figures["to"], figures["min_count"]) == ("2026-03-01", "2026-03-31", 5)
    assert figures["counters"] == [
        {
            "counter": "bar-age-check",
            "purpose": "age_over_18",
            "claims": ["address.locality", "address.postal_code", "family_name"],
            "requested": 0,
            "answered_ok": 0,
            "declined": 0,
            "failed": 0,
            "refused": SUPPRESSED,  # 2, beyond its registration
        },
        {
            "counter": "bar-age-check",
            "purpose": "age_over_18",
            "claims": ["age_equal_or_over.18"],
            "requested": 12,  # the two just outside March are not counted
            "answered_ok": 9,
            "declined": SUPPRESSED,  # 2
            "failed": SUPPRESSED,  # 1
            "refused": 0,
        },
        {
            "counter": "town-hall",
            "purpose": "residence",
            "claims": ["address.locality", "address.postal_code", "family_name"],
            "requested": SUPPRESSED,
            "answered_ok": SUPPRESSED,
            "declined": 0,
            "failed": 0,
            "refused": 0,
        },
    ]
    assert figures["agencies"] == [
        {
            "agency": "civil-registry",
            "credential_configuration": "national_id",
            "issued": 7,
            "revoked": 5,  # the one that failed is not a revocation
            "suspended": SUPPRESSED,
            "reinstated": SUPPRESSED,
        },
        {
            "agency": "civil-registry",
            "credential_configuration": "residence_permit",
            "issued": SUPPRESSED,
            "revoked": 0,
            "suspended": 0,
            "reinstated": 0,
        },
    ]
    assert "1a2b" not in answer.text and "9f2c" not in answer.text  # no citizen reference
    viewed = asyncio.run(_entries(url, "oversight.viewed"))
    assert ("auditor", "dpa", '{"period":"2026-03-01/2026-03-31","read":"figures"}', None) in (
        viewed
    )


def test_the_threshold_is_a_setting(
    var_dir: Path, url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = add_auditor(monkeypatch, capsys, url, var_dir)
    with _client(var_dir, url, oversight_min_count=2) as client:
        profile = client.get("/oversight/api/auditor", headers=_bearer(key)).json()
        assert profile == {
            "auditor_id": "dpa",
            "name": "Data Protection Authority",
            "min_count": 2,
            "max_period_days": 1096,
        }
        figures = client.get("/oversight/api/figures", params=MARCH, headers=_bearer(key)).json()
    age = figures["counters"][1]
    # at 2, declined (2) is over the threshold, but failed (1) suppressed takes it along
    assert (age["answered_ok"], age["declined"], age["failed"]) == (9, SUPPRESSED, SUPPRESSED)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


BAD_PERIODS = [
    ({"from": "2026-03-01"}, "from and to are required"),
    ({"from": "1 March", "to": "2026-03-31"}, "from must be a date written YYYY-MM-DD"),
    ({"from": "2026-02-30", "to": "2026-03-31"}, "from must be a date written YYYY-MM-DD"),
    ({"from": "2026-03-31", "to": "2026-03-01"}, "the period ends (to) before it starts"),
    ({"from": "2020-01-01", "to": "2026-03-01"}, "a period covers 1096 days at most"),
    ({"from": "2026-03-01", "to": "2026-03-31", "x": "1"}, "unknown query parameter 'x'"),
    ({"from": "2026-03-01" * 10, "to": "2026-03-31"}, "from must be a date"),
]


def test_a_period_that_is_not_one_is_refused(
    client: TestClient[Any],
    url: str,
    var_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = add_auditor(monkeypatch, capsys, url, var_dir)
    for params, detail in BAD_PERIODS:
        answer = client.get("/oversight/api/figures", params=params, headers=_bearer(key))
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert detail in answer.json()["detail"], (params, answer.text)


def test_without_an_auditor_key_nothing_is_shown(client: TestClient[Any]) -> None:
    for authorization in [None, "Bearer not-a-key", "Basic ZHBhOmtleQ==", "Bearer " + "k" * 300]:
        headers = {} if authorization is None else {"Authorization": authorization}
        for path in ("/oversight/api/figures", "/oversight/api/auditor"):
            answer = client.get(path, params=MARCH, headers=headers)
            assert answer.status_code == 401
            assert answer.json()["detail"] == "an auditor key is required"
        # checked before the period is looked at
        assert client.get("/oversight/api/figures", headers=headers).status_code == 401


def test_a_new_key_replaces_the_old_and_a_removed_auditor_is_refused(
    client: TestClient[Any],
    url: str,
    var_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = add_auditor(monkeypatch, capsys, url, var_dir)
    assert main(["auditor", "new-key", "dpa"]) == 0
    new = json.loads(capsys.readouterr().out)["auditor_key"]
    assert client.get("/oversight/api/auditor", headers=_bearer(old)).status_code == 401
    assert client.get("/oversight/api/auditor", headers=_bearer(new)).status_code == 200
    assert main(["auditor", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(a["auditor_id"], a["name"]) for a in listed] == [("dpa", "Data Protection Authority")]
    assert main(["auditor", "add", "dpa", "--name", "Again"]) == 2
    assert "registered already" in capsys.readouterr().err
    assert main(["auditor", "add", "DPA!", "--name", "Bad id"]) == 2
    assert main(["auditor", "remove", "dpa"]) == 0
    assert client.get("/oversight/api/auditor", headers=_bearer(new)).status_code == 401
    assert main(["auditor", "remove", "dpa"]) == 2


async def _rolled_through(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            value = (
                await connection.execute(
                    text("SELECT rolled_through FROM oversight_rollup_state WHERE id = 1")
                )
            ).scalar()
            return int(value or 0)
    finally:
        await engine.dispose()


def test_the_housekeeping_rolls_the_trail_up_and_the_figures_stay(
    client: TestClient[Any],
    url: str,
    var_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The app's minute task rolls up at start: the seeded entries end up in the daily
    counts (waited for, the pass runs beside the requests), and March reads the same."""
    key = add_auditor(monkeypatch, capsys, url, var_dir)
    seeded = len(realistic_mix())
    deadline = time.monotonic() + 60
    while asyncio.run(_rolled_through(url)) < seeded:
        assert time.monotonic() < deadline, "the housekeeping did not roll the trail up"
        time.sleep(0.2)
    figures = client.get("/oversight/api/figures", params=MARCH, headers=_bearer(key)).json()
    assert figures["counters"][1]["requested"] == 12
    assert figures["agencies"][0]["issued"] == 7
