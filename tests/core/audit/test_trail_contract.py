"""The audit trail's contract (``AuditTrail`` and ``ChainedTrail``), one for three stores:
memory, SQLite and PostgreSQL; and concurrent chainers on the real databases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import event, select, update

from core.audit.chain import GENESIS, ChainedEntry, verify_chain
from core.audit.memory import MemoryAuditTrail
from core.audit.trail import AuditEntry, AuditTrail
from core.storage.audit_chain import SqlAuditChain
from core.storage.audit_trail import AuditEntryRow, SqlAuditTrail
from core.storage.engine import create_engine, session_factory
from tests.conftest import backend_url, fresh_engine
from tests.support.audit import audit_pki, ticking_clock

PKI = audit_pki()


@dataclass
class Trail:
    trail: AuditTrail
    chain: MemoryAuditTrail | SqlAuditChain


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def trail(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Trail]:
    clock = ticking_clock()
    if request.param == "memory":
        memory = MemoryAuditTrail(clock)
        yield Trail(memory, memory)
        return
    async with fresh_engine(backend_url(request.param, tmp_path)) as engine:
        sessions = session_factory(engine)
        yield Trail(SqlAuditTrail(sessions, clock), SqlAuditChain(sessions, clock, batch=3))


async def _all(chain: MemoryAuditTrail | SqlAuditChain) -> list[ChainedEntry]:
    return await chain.read_entries(0, 10_000)


def _entry(i: int, subject_key: str | None = None) -> AuditEntry:
    return AuditEntry(
        "counter",
        "town-hall",
        "presentation.answered",
        "ok" if i % 2 else "access_denied",
        {"claims": ("family_name", "age_over_18"), "template": "age", "n": i},
        subject_key,
    )


async def test_appended_entries_are_chained_in_order_and_verify(trail: Trail) -> None:
    for i in range(7):
        await trail.trail.append(_entry(i, subject_key="a" * 64 if i == 3 else None))
    assert await _all(trail.chain) == []  # appending chains nothing
    sealed = await trail.chain.seal(PKI.heads())
    assert sealed.chained == 7
    assert sealed.head is not None and sealed.head.position == 7
    entries = await _all(trail.chain)
    assert [e.position for e in entries] == [1, 2, 3, 4, 5, 6, 7]
    assert entries[0].previous_hash == GENESIS
    assert [json.loads(e.facts)["n"] for e in entries] == list(range(7))
    assert json.loads(entries[0].facts)["claims"] == ["family_name", "age_over_18"]
    assert entries[3].subject_key == "a" * 64
    assert [e.outcome for e in entries[:2]] == ["access_denied", "ok"]
    report = verify_chain(entries, await trail.chain.read_heads(), PKI.keys)
    assert report.ok and report.signed_through == 7 and report.warnings == []


async def test_later_entries_continue_the_chain(trail: Trail) -> None:
    await trail.trail.append(_entry(0))
    first = await trail.chain.seal(PKI.heads())
    await trail.trail.append(_entry(1))
    await trail.trail.append(_entry(2))
    second = await trail.chain.seal(PKI.heads())
    assert (first.chained, second.chained) == (1, 2)
    entries = await _all(trail.chain)
    assert entries[1].previous_hash == entries[0].entry_hash
    heads = await trail.chain.read_heads()
    assert [h.position for h in heads] == [1, 3]
    assert verify_chain(entries, heads, PKI.keys).ok
    assert await trail.chain.read_entries(1, 1) == entries[1:2]


async def test_a_head_waits_for_its_interval_unless_forced(trail: Trail) -> None:
    await trail.trail.append(_entry(0))
    await trail.chain.seal(PKI.heads(interval=3600))
    await trail.trail.append(_entry(1))
    sealed = await trail.chain.seal(PKI.heads(interval=3600))
    assert sealed.chained == 1 and sealed.head is None
    forced = await trail.chain.seal(PKI.heads(interval=3600), force=True)
    assert forced.head is not None and forced.head.position == 2
    nothing_new = await trail.chain.seal(PKI.heads(), force=True)
    assert nothing_new.head is None  # no head twice over the same position


async def test_retention_removes_whole_signed_stretches_and_the_rest_verifies(
    trail: Trail,
) -> None:
    for i in range(4):
        await trail.trail.append(_entry(i))
    await trail.chain.seal(PKI.heads())
    heads = await trail.chain.read_heads()
    for i in range(4, 6):
        await trail.trail.append(_entry(i))
    await trail.chain.seal(PKI.heads())
    assert await trail.chain.prune(heads[0].at - 1) == 0  # nothing signed before then
    assert await trail.chain.prune(heads[0].at + 0.5) == 4
    entries = await _all(trail.chain)
    assert [e.position for e in entries] == [5, 6]
    remaining = await trail.chain.read_heads()
    assert [h.position for h in remaining] == [4, 6]
    assert verify_chain(entries, remaining, PKI.keys).ok
    # everything signed so far goes; the chain goes on from the last head
    assert await trail.chain.prune(remaining[-1].at + 0.5) == 2
    # nothing left but the last head: the chain holds, signed through it
    assert await _all(trail.chain) == []
    report = verify_chain([], await trail.chain.read_heads(), PKI.keys)
    assert report.ok and report.signed_through == 6
    await trail.trail.append(_entry(6))
    await trail.chain.seal(PKI.heads())
    entries = await _all(trail.chain)
    assert [e.position for e in entries] == [7]
    assert verify_chain(entries, await trail.chain.read_heads(), PKI.keys).ok


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_concurrent_chainers_make_one_gap_free_chain(backend: str, tmp_path: Path) -> None:
    """Four chainers on connections of their own (as four worker processes have), while
    appends go on: every entry is chained exactly once, in one chain that verifies."""
    url = backend_url(backend, tmp_path)
    async with fresh_engine(url) as engine:
        engines = [create_engine(url) for _ in range(4)]
        try:
            clock = ticking_clock(0.001)
            trails = [SqlAuditTrail(session_factory(e), clock) for e in engines]
            chains = [SqlAuditChain(session_factory(e), clock, batch=7) for e in engines]

            async def appender(k: int) -> None:
                for i in range(40):
                    await trails[k].append(_entry(i))

            async def chainer(k: int) -> None:
                for _ in range(25):
                    await chains[k].seal(PKI.heads())
                    await asyncio.sleep(0)

            await asyncio.gather(*(appender(k) for k in range(4)), *(chainer(k) for k in range(4)))
            await chains[0].seal(PKI.heads(), force=True)
            entries = await chains[0].read_entries(0, 10_000)
            assert [e.position for e in entries] == list(range(1, 161))
            async with session_factory(engine)() as session:
                unchained = await session.scalars(
                    select(AuditEntryRow.id).where(AuditEntryRow.position.is_(None))
                )
                assert list(unchained) == []
            report = verify_chain(entries, await chains[0].read_heads(), PKI.keys)
            assert report.ok, report.first_break
            assert report.signed_through == 160
        finally:
            for e in engines:
                await e.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_a_changed_row_is_found_at_its_position(backend: str, tmp_path: Path) -> None:
    async with fresh_engine(backend_url(backend, tmp_path)) as engine:
        sessions = session_factory(engine)
        clock = ticking_clock()
        trail, chain = SqlAuditTrail(sessions, clock), SqlAuditChain(sessions, clock)
        for i in range(5):
            await trail.append(_entry(i))
        await chain.seal(PKI.heads())
        async with sessions.begin() as session:
            await session.execute(
                update(AuditEntryRow).where(AuditEntryRow.position == 3).values(outcome="ok!")
            )
        report = verify_chain(await chain.read_entries(0, 100), await chain.read_heads(), PKI.keys)
        assert report.first_break is not None
        assert (report.first_break.position, report.first_break.kind) == (3, "hash_mismatch")


async def test_a_snapshot_reads_one_state_while_retention_removes_everything(
    trail: Trail,
) -> None:
    """A verification or an export that reads page by page while retention runs sees the
    chain as it was when it began: whole, never a start without the head it follows."""
    for i in range(6):
        await trail.trail.append(_entry(i))
        if i % 2:
            await trail.chain.seal(PKI.heads())
    async with trail.chain.snapshot() as snapshot:
        first_page = await snapshot.read_entries(0, 2)
        last = await trail.chain.read_heads()
        assert await trail.chain.prune(last[-1].at + 0.5) == 6  # meanwhile, elsewhere
        rest = await snapshot.read_entries(2, 100)
        heads = await snapshot.read_heads()
        assert (await snapshot.last_head()) == heads[-1]
    assert [e.position for e in [*first_page, *rest]] == [1, 2, 3, 4, 5, 6]
    assert [h.position for h in heads] == [2, 4, 6]
    report = verify_chain([*first_page, *rest], heads, PKI.keys)
    assert report.ok and report.signed_through == 6
    assert await _all(trail.chain) == []


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_retention_removes_in_steps_each_ending_at_a_head(
    backend: str, tmp_path: Path
) -> None:
    clock = ticking_clock()
    async with fresh_engine(backend_url(backend, tmp_path)) as engine:
        sessions = session_factory(engine)
        trail, chain = SqlAuditTrail(sessions, clock), SqlAuditChain(sessions, clock)
        for i in range(7):
            await trail.append(_entry(i))
            if i % 2:
                await chain.seal(PKI.heads())
        await chain.seal(PKI.heads())
        heads = await chain.read_heads()
        assert [h.position for h in heads] == [2, 4, 6, 7]
        deletes: list[str] = []

        def seen(_c: object, _cur: object, statement: str, *_rest: object) -> None:
            if statement.startswith("DELETE FROM audit_entries"):
                deletes.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        try:
            assert await chain.prune(heads[2].at + 0.5, batch=2) == 6
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", seen)
        assert len(deletes) == 3  # through the heads of positions 2, 4 and 6
        entries = await _all(chain)
        assert [e.position for e in entries] == [7]
        remaining = await chain.read_heads()
        assert [h.position for h in remaining] == [6, 7]
        assert verify_chain(entries, remaining, PKI.keys).ok
