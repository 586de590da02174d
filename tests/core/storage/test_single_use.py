"""The SQL ``SeenOnce`` (``single_use_values``) on SQLite and PostgreSQL: a value is used
once per scope, whichever worker sees it first, for as long as asked; only its hash is
stored; housekeeping removes what is no longer remembered."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import FixedClock
from core.replay import SeenOnce, SingleUse, UsedBefore
from core.storage.engine import create_engine
from core.storage.single_use import SingleUseRow, SqlSingleUse, first_use_parameters, first_uses_in
from tests.conftest import fresh_engine

NOW = 1_800_000_000.0


async def test_a_value_is_first_used_once_per_scope(engine: AsyncEngine) -> None:
    seen: SeenOnce = SqlSingleUse(engine, clock=FixedClock(NOW))
    assert await seen.first_use("dpop", "jkt-a proof-1", NOW + 65)
    assert not await seen.first_use("dpop", "jkt-a proof-1", NOW + 65)
    assert not await seen.first_use("dpop", "jkt-a proof-1", NOW + 600)
    assert await seen.first_use("client-attestation", "jkt-a proof-1", NOW + 65)
    assert await seen.first_use("dpop", "jkt-a proof-2", NOW + 65)


async def test_only_a_hash_of_the_value_is_stored(engine: AsyncEngine) -> None:
    value = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs e1j3V_bKic8-LAEB"
    assert await SqlSingleUse(engine, clock=FixedClock(NOW)).first_use("dpop", value, NOW + 65)
    async with engine.connect() as connection:
        rows = (await connection.execute(select(SingleUseRow.__table__))).all()
    assert [tuple(row) for row in rows] == [
        ("dpop", hashlib.sha256(value.encode()).hexdigest(), NOW + 65)
    ]


async def test_a_value_is_remembered_until_keep_until_and_no_longer(engine: AsyncEngine) -> None:
    clock = FixedClock(NOW)
    seen = SqlSingleUse(engine, clock=clock)
    assert await seen.first_use("dpop", "v", NOW + 60)
    clock.advance(59)
    assert not await seen.first_use("dpop", "v", NOW + 120)
    clock.advance(1)  # keep_until reached: forgotten, though housekeeping has not run
    assert await seen.first_use("dpop", "v", NOW + 120)
    assert not await seen.first_use("dpop", "v", NOW + 180)


async def test_fifty_racing_workers_see_exactly_one_first_use(database_url: str) -> None:
    """Two workers (an engine each, like two processes) get 50 concurrent requests with
    the same value between them: exactly one is the first."""
    async with fresh_engine(database_url) as engine:
        workers = [engine, create_engine(database_url)]
        try:
            records = [SqlSingleUse(worker, clock=FixedClock(NOW)) for worker in workers]
            results = await asyncio.gather(
                *(records[i % 2].first_use("dpop", "raced", NOW + 65) for i in range(50))
            )
            assert sum(results) == 1
            assert results.count(False) == 49
            # Racing on an expired row: again exactly one takes it over.
            later = [SqlSingleUse(worker, clock=FixedClock(NOW + 100)) for worker in workers]
            results = await asyncio.gather(
                *(later[i % 2].first_use("dpop", "raced", NOW + 165) for i in range(50))
            )
            assert sum(results) == 1
        finally:
            await workers[1].dispose()


async def test_purge_removes_only_values_no_longer_remembered(engine: AsyncEngine) -> None:
    seen = SqlSingleUse(engine, clock=FixedClock(NOW))
    for name, keep_until in (("old", NOW - 1), ("ends-now", NOW), ("live", NOW + 30)):
        assert await seen.first_use("dpop", name, keep_until)
    assert await seen.purge(NOW) == 2
    async with engine.connect() as connection:
        kept = (await connection.execute(select(SingleUseRow.keep_until))).scalars().all()
    assert kept == [NOW + 30]
    assert not await seen.first_use("dpop", "live", NOW + 90)
    assert await seen.purge(NOW) == 0


@pytest.mark.parametrize(
    ("scope", "keep_until"), [("", NOW), ("s" * 33, NOW), ("dpop", float("nan"))]
)
async def test_malformed_scope_or_time_is_a_programming_error(
    engine: AsyncEngine, scope: str, keep_until: float
) -> None:
    with pytest.raises(ValueError):
        await SqlSingleUse(engine).first_use(scope, "v", keep_until)


def _single_use(value: str, keep_until: float = NOW + 65) -> SingleUse:
    return SingleUse("dpop", value, keep_until, ValueError(f"{value} used before"))


async def test_values_used_up_in_a_transaction_follow_the_same_rules(engine: AsyncEngine) -> None:
    """``first_uses_in``, for a storage that uses values up with the change they allow:
    every value seen first is kept, the first one used before is named, an expired one is
    taken over, and ``SeenOnce`` sees the same record."""
    seen = SqlSingleUse(engine, clock=FixedClock(NOW))
    assert await seen.first_use("dpop", "used", NOW + 65)
    assert await seen.first_use("dpop", "expired", NOW - 1)
    values = [_single_use("fresh"), _single_use("used"), _single_use("expired")]
    async with engine.begin() as connection:
        assert await first_uses_in(connection, values, NOW) is values[1]
    assert not await seen.first_use("dpop", "fresh", NOW + 65)
    assert not await seen.first_use("dpop", "expired", NOW + 65)
    async with engine.begin() as connection:
        assert await first_uses_in(connection, [_single_use("other")], NOW) is None


def test_a_value_sent_twice_at_once_is_used_before() -> None:
    twice = _single_use("twice")
    with pytest.raises(UsedBefore) as used:
        first_use_parameters([twice, _single_use("twice")])
    assert str(used.value.refusal) == "twice used before"
    with pytest.raises(ValueError):
        first_use_parameters([_single_use("v", float("inf"))])
