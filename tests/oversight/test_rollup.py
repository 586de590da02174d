"""The SQL roll-up across workers, on SQLite and PostgreSQL: one pass at a time; an entry
that commits after a pass went by its id (a lower id than entries already rolled up) is
counted once, before and after it is rolled up; a gap that never fills is given up after
the horizon."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import delete, event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from app.migrate import downgrade, upgrade
from core.audit.trail import AuditEntry
from core.storage.audit_chain import SqlAuditChain
from core.storage.audit_trail import AuditEntryRow, SqlAuditTrail, canonical_facts
from core.storage.engine import create_engine, session_factory
from oversight.domain import COUNTED_ACTIONS, Period
from oversight.storage import sql
from oversight.storage.sql import GAP_HORIZON, SqlAuditCounts, missing_ranges
from oversight.storage.tables import RollupGapRow, RollupRow, RollupStateRow
from tests.conftest import backend_url, fresh_engine, migrated_database
from tests.oversight.entries import MARCH_FIRST
from tests.support.audit import audit_pki
from tests.support.postgres import run_in_thread

PKI = audit_pki()
MARCH = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
ISSUED = AuditEntry(
    "agency", "civil-registry", "credential.issued", facts={"credential_configuration": "pid"}
)


def _row(entry_id: int | None, entry: AuditEntry = ISSUED) -> dict[str, object]:
    row: dict[str, object] = {
        "at": MARCH_FIRST + 3600,
        "actor_kind": entry.actor_kind,
        "actor": entry.actor,
        "action": entry.action,
        "outcome": entry.outcome,
        "facts": canonical_facts(entry.facts),
        "subject_key": None,
    }
    if entry_id is not None:
        row["id"] = entry_id
    return row


async def _insert(engine: AsyncEngine, *ids: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(AuditEntryRow), [_row(i) for i in ids])


async def _issued(counts: SqlAuditCounts) -> int:
    return sum(g.count for g in await counts.count(MARCH, COUNTED_ACTIONS))


async def _gaps(engine: AsyncEngine) -> list[tuple[int, int]]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(RollupGapRow.first_id, RollupGapRow.last_id))
        return sorted((r[0], r[1]) for r in rows)


def test_missing_ranges() -> None:
    assert missing_ranges(0, 5, [1, 2, 3, 4, 5]) == []
    assert missing_ranges(0, 9, [2, 3, 7, 9]) == [(1, 1), (4, 6), (8, 8)]
    assert missing_ranges(10, 12, []) == [(11, 12)]


async def test_an_entry_that_commits_late_is_counted_once(engine: AsyncEngine) -> None:
    counts = SqlAuditCounts(engine, batch=3)
    await _insert(engine, 1, 2, 4, 5, 8)  # 3, 6 and 7 still being appended
    assert await counts.roll_up(MARCH_FIRST) == 5
    assert await _gaps(engine) == [(3, 3), (6, 7)]
    assert await _issued(counts) == 5
    await _insert(engine, 3, 7)  # they commit now, below the cursor
    assert await _issued(counts) == 7  # counted from the gaps before any pass
    assert await counts.roll_up(MARCH_FIRST + 60) == 2
    assert await _gaps(engine) == [(6, 6)]
    assert await _issued(counts) == 7
    await _insert(engine, 9)
    assert await counts.roll_up(MARCH_FIRST + 120) == 1
    assert await _issued(counts) == 8
    async with engine.connect() as connection:
        rolled = (await connection.execute(select(RollupRow.count))).scalars().all()
    assert sum(rolled) == 8


async def test_a_gap_that_never_fills_is_given_up_after_the_horizon(engine: AsyncEngine) -> None:
    counts = SqlAuditCounts(engine)
    await _insert(engine, 1, 3)
    await counts.roll_up(MARCH_FIRST)
    assert await _gaps(engine) == [(2, 2)]
    await counts.roll_up(MARCH_FIRST + GAP_HORIZON - 1)
    assert await _gaps(engine) == [(2, 2)]
    await counts.roll_up(MARCH_FIRST + GAP_HORIZON + 1)  # a rolled-back append, taken as such
    assert await _gaps(engine) == []
    assert await _issued(counts) == 2


async def test_a_pass_waits_for_no_one_and_one_pass_runs_at_a_time(engine: AsyncEngine) -> None:
    counts = SqlAuditCounts(engine)
    await _insert(engine, *range(1, 11))
    await counts.roll_up(MARCH_FIRST)  # makes the state row
    await _insert(engine, *range(11, 21))
    async with engine.begin() as connection:  # another worker's pass is under way
        await connection.execute(
            update(RollupStateRow).values(holder="other", lease_until=MARCH_FIRST + 300)
        )
    assert await counts.roll_up(MARCH_FIRST + 10) == 0
    assert await _issued(counts) == 20  # the figures do not wait for it either
    # its worker died: once its lease has run out, the next pass takes over
    assert await counts.roll_up(MARCH_FIRST + 301) == 10
    assert await _issued(counts) == 20


async def test_passes_of_many_workers_together_roll_each_entry_up_once(
    engine: AsyncEngine, database_url: str
) -> None:
    await _insert(engine, *range(1, 201))
    workers = [create_engine(database_url) for _ in range(4)]
    try:
        passes = [SqlAuditCounts(w, batch=13) for w in workers]
        rolled = await asyncio.gather(*(p.roll_up(MARCH_FIRST) for p in passes))
        rolled_again = await asyncio.gather(*(p.roll_up(MARCH_FIRST + 1) for p in passes))
    finally:
        for worker in workers:
            await worker.dispose()
    assert sum(rolled) + sum(rolled_again) == 200
    async with engine.connect() as connection:
        total = (await connection.execute(select(RollupRow.count))).scalars().all()
    assert sum(total) == 200
    assert await _issued(SqlAuditCounts(engine)) == 200


@pytest.mark.postgres
async def test_an_append_in_flight_on_postgresql_is_not_missed(tmp_path: object) -> None:
    """A real late commit: an append takes its id from the sequence, another append takes
    the next id and commits, a pass rolls up past both ids, then the first commits."""
    async with fresh_engine(backend_url("postgresql", tmp_path)) as engine:  # type: ignore[arg-type]
        trail = SqlAuditTrail(session_factory(engine), lambda: MARCH_FIRST + 60)
        counts = SqlAuditCounts(engine)
        await trail.append(ISSUED)
        async with engine.connect() as slow:
            transaction = await slow.begin()
            await slow.execute(insert(AuditEntryRow).values(_row(None)))  # id 2, in flight
            await trail.append(ISSUED)  # id 3, committed
            assert await counts.roll_up(MARCH_FIRST + 120) == 2
            assert await _gaps(engine) == [(2, 2)]
            assert await _issued(counts) == 2
            await transaction.commit()
        assert await _issued(counts) == 3
        assert await counts.roll_up(MARCH_FIRST + 180) == 1
        assert await _gaps(engine) == []
        assert await _issued(counts) == 3


async def test_a_backlog_is_caught_up_over_several_passes(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "MAX_BATCHES", 3)
    counts = SqlAuditCounts(engine, batch=4)
    await _insert(engine, *range(1, 31))
    passes = [await counts.roll_up(MARCH_FIRST + n) for n in range(4)]
    assert passes == [12, 12, 6, 0]
    assert await _issued(counts) == 30


@pytest.mark.postgres
async def test_an_append_committing_in_the_middle_of_a_batch_is_counted_once(
    tmp_path: object,
) -> None:
    """The append in flight commits between the batch's read of the ids present and its
    counting statements: the batch either counts it or keeps its id as a gap, not both."""
    async with fresh_engine(backend_url("postgresql", tmp_path)) as engine:  # type: ignore[arg-type]
        trail = SqlAuditTrail(session_factory(engine), lambda: MARCH_FIRST + 60)
        counts = SqlAuditCounts(engine)
        await trail.append(ISSUED)
        async with engine.connect() as slow:
            transaction = await slow.begin()
            await slow.execute(insert(AuditEntryRow).values(_row(None)))  # id 2, in flight
            await trail.append(ISSUED)  # id 3, committed

            def commit_after_the_ids_are_read(
                connection: object, cursor: object, statement: str, *args: object
            ) -> None:
                if statement.startswith("SELECT id FROM audit_entries WHERE id > "):
                    await_only(transaction.commit())

            event.listen(engine.sync_engine, "after_cursor_execute", commit_after_the_ids_are_read)
            try:
                await counts.roll_up(MARCH_FIRST + 120)
            finally:
                event.remove(
                    engine.sync_engine, "after_cursor_execute", commit_after_the_ids_are_read
                )
        assert not transaction.is_active
        assert await _issued(counts) == 3
        await counts.roll_up(MARCH_FIRST + 180)
        assert await _gaps(engine) == []
        assert await _issued(counts) == 3
        async with engine.connect() as connection:
            rolled = (await connection.execute(select(RollupRow.count))).scalars().all()
        assert sum(rolled) == 3


async def test_entries_appended_after_retention_removed_every_row_are_counted(
    engine: AsyncEngine,
) -> None:
    """Ids are never given twice (SQLite: AUTOINCREMENT), so the roll-up's cursor, past
    the removed rows' ids, still finds the new entries."""
    clock = MARCH_FIRST + 60
    sessions = session_factory(engine)
    chain = SqlAuditChain(sessions, lambda: clock)
    counts = SqlAuditCounts(engine)
    await _insert_appended(engine, 3)
    await chain.seal(PKI.heads(), force=True)
    await counts.roll_up(clock)
    assert await chain.prune(clock + 1) == 3  # every row gone, its counts kept
    await _insert_appended(engine, 2)
    await counts.roll_up(clock + 60)
    assert await _issued(counts) == 5


async def _insert_appended(engine: AsyncEngine, count: int) -> None:
    trail = SqlAuditTrail(session_factory(engine), lambda: MARCH_FIRST + 150)
    for _ in range(count):
        await trail.append(ISSUED)


def test_the_migration_keeps_ids_of_a_trail_emptied_before_it_from_coming_back(
    tmp_path: Path,
) -> None:
    url = backend_url("sqlite", tmp_path)
    migrated_database(url)
    downgrade(url, "0025")

    async def before() -> None:
        engine = create_engine(url)
        try:
            counts = SqlAuditCounts(engine)
            await _insert(engine, 1, 2, 3, 4)
            await counts.roll_up(MARCH_FIRST)
            async with engine.begin() as connection:  # retention took every row
                await connection.execute(delete(AuditEntryRow))
        finally:
            await engine.dispose()

    async def after() -> int:
        engine = create_engine(url)
        try:
            counts = SqlAuditCounts(engine)
            await _insert_appended(engine, 2)
            await counts.roll_up(MARCH_FIRST + 60)
            async with engine.connect() as connection:
                ids = (await connection.execute(select(AuditEntryRow.id))).scalars().all()
            assert sorted(ids) == [5, 6]
            return await _issued(counts)
        finally:
            await engine.dispose()

    run_in_thread(before())
    upgrade(url)
    assert run_in_thread(after()) == 6
