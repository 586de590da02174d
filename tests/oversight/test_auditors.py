"""The ``Auditors`` port, in memory and in SQL on SQLite and PostgreSQL: registered once
per id, found by the digest of the key only, a new key replaces the old, removal forgets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from oversight.domain import Auditor
from oversight.ports import Auditors
from oversight.storage.memory import MemoryAuditors
from oversight.storage.sql import SqlAuditors
from oversight.storage.tables import AuditorRow
from tests.conftest import backend_url, fresh_engine

DPA = Auditor("dpa", "Data Protection Authority", 1_800_000_000.0)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def auditors(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Auditors]:
    if request.param == "memory":
        yield MemoryAuditors()
        return
    async with fresh_engine(backend_url(request.param, tmp_path)) as engine:
        yield SqlAuditors(engine)


async def test_registered_once_found_by_the_digest_of_its_key(auditors: Auditors) -> None:
    assert await auditors.register(DPA, "a" * 64)
    assert not await auditors.register(Auditor("dpa", "Someone else", 0.0), "b" * 64)
    assert await auditors.by_key_digest("a" * 64) == DPA
    assert await auditors.by_key_digest("b" * 64) is None
    assert await auditors.listed() == [DPA]


async def test_a_new_key_replaces_the_old_and_removal_forgets(auditors: Auditors) -> None:
    await auditors.register(DPA, "a" * 64)
    assert await auditors.replace_key("dpa", "c" * 64)
    assert await auditors.by_key_digest("a" * 64) is None
    assert await auditors.by_key_digest("c" * 64) == DPA
    assert not await auditors.replace_key("nobody", "d" * 64)
    assert await auditors.remove("dpa")
    assert not await auditors.remove("dpa")
    assert await auditors.by_key_digest("c" * 64) is None
    assert await auditors.listed() == []


async def test_only_the_digest_is_stored(tmp_path: Path) -> None:
    from oversight.services.context import OversightContext
    from oversight.services.register_auditor import key_digest, register_auditor
    from oversight.storage.memory import MemoryAuditTrail

    async with fresh_engine(backend_url("sqlite", tmp_path)) as engine:
        context = OversightContext(
            auditors=SqlAuditors(engine),
            counts=MemoryAuditTrail(lambda: 0.0),
            trail=MemoryAuditTrail(lambda: 0.0),
        )
        key = await register_auditor(context, "dpa", "Data Protection Authority")
        async with engine.connect() as connection:
            rows = (await connection.execute(select(AuditorRow.__table__))).all()
    assert len(key) >= 43
    assert [tuple(r)[:3] for r in rows] == [("dpa", "Data Protection Authority", key_digest(key))]
    assert key not in repr(rows)
