"""The ``AuditCounts`` port, in memory and in SQL on SQLite and PostgreSQL: a period's
counts are the same whether the entries are rolled up, not yet, or partly; the period is
whole UTC days; only the actions asked for are counted."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from core.audit.trail import AuditEntry, AuditTrail
from core.clock import FixedClock
from core.storage.audit_trail import SqlAuditTrail
from core.storage.engine import session_factory
from oversight.domain import COUNTED_ACTIONS, CountedGroup, Period
from oversight.ports import AuditCounts
from oversight.storage.memory import MemoryAuditTrail
from oversight.storage.sql import SqlAuditCounts
from tests.conftest import backend_url, fresh_engine
from tests.oversight.entries import AGE, MARCH_FIRST, realistic_mix

MARCH = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31))


@dataclass
class Trail:
    trail: AuditTrail
    counts: AuditCounts
    clock: FixedClock

    async def append_at(self, at: float, entry: AuditEntry) -> None:
        self.clock.at = at
        await self.trail.append(entry)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def trail(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[Trail]:
    clock = FixedClock(MARCH_FIRST)
    if request.param == "memory":
        memory = MemoryAuditTrail(clock.now)
        yield Trail(memory, memory, clock)
        return
    async with fresh_engine(backend_url(request.param, tmp_path)) as engine:  # type: ignore[arg-type]
        # a small batch, so that a pass takes several transactions
        yield Trail(
            SqlAuditTrail(session_factory(engine), clock.now),
            SqlAuditCounts(engine, batch=7),
            clock,
        )


def _table(groups: list[CountedGroup]) -> Counter[tuple[str, str, str, str]]:
    table: Counter[tuple[str, str, str, str]] = Counter()
    for group in groups:
        table[(group.actor, group.action, group.outcome, repr(sorted(group.facts.items())))] += (
            group.count
        )
    return table


async def test_counts_are_the_same_rolled_up_or_not(trail: Trail) -> None:
    mix = realistic_mix()
    for at, entry in mix[:25]:
        await trail.append_at(at, entry)
    before = _table(await trail.counts.count(MARCH, COUNTED_ACTIONS))
    assert await trail.counts.roll_up(MARCH_FIRST + 40 * 86400) == 25
    assert _table(await trail.counts.count(MARCH, COUNTED_ACTIONS)) == before
    for at, entry in mix[25:]:  # partly rolled up, partly not
        await trail.append_at(at, entry)
    partly = _table(await trail.counts.count(MARCH, COUNTED_ACTIONS))
    assert await trail.counts.roll_up(MARCH_FIRST + 40 * 86400) == len(mix) - 25
    assert await trail.counts.roll_up(MARCH_FIRST + 40 * 86400) == 0
    rolled = _table(await trail.counts.count(MARCH, COUNTED_ACTIONS))
    assert rolled == partly
    asked = ("bar-age-check", "presentation.requested", "ok")
    facts = repr(
        sorted({"claims": AGE, "purpose": "age_over_18", "template": "age_over_18"}.items())
    )
    assert rolled[(*asked, facts)] == 12  # the two outside March are not counted
    assert sum(rolled.values()) == 49  # the mix's March entries of counted actions
    assert not any(key[1] in ("oversight.viewed", "wallet.device_added") for key in rolled)


async def test_a_period_is_whole_utc_days(trail: Trail) -> None:
    entry = AuditEntry("agency", "civil-registry", "credential.issued", facts={"n": 1})
    last_second_of_february = MARCH_FIRST - 1.0
    for at in (last_second_of_february, MARCH_FIRST, MARCH_FIRST + 86399.5, MARCH_FIRST + 86400):
        await trail.append_at(at, entry)
    first_of_march = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 1))
    february = Period(dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    for _ in range(2):  # not rolled up, then rolled up
        counted = await trail.counts.count(first_of_march, COUNTED_ACTIONS)
        assert [g.count for g in counted] == [2]
        assert [g.count for g in await trail.counts.count(february, COUNTED_ACTIONS)] == [1]
        await trail.counts.roll_up(MARCH_FIRST + 3 * 86400)


async def test_only_the_actions_asked_for_are_counted(trail: Trail) -> None:
    for at, entry in realistic_mix():
        await trail.append_at(at, entry)
    await trail.counts.roll_up(MARCH_FIRST)
    counted = await trail.counts.count(MARCH, ["credential.suspended"])
    assert [(g.actor, g.action, g.count) for g in counted] == [
        ("civil-registry", "credential.suspended", 1)
    ]
    assert counted[0].facts == {"credential_configuration": "national_id"}
