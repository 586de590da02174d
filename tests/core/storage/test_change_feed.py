"""Workers keep an owner's active key while their change feed is live and has heard of no
change to the keys: every change, whoever commits it (another worker, ``idwallet keys``,
an administrator's SQL), reaches them as it commits; a lost feed means reading on every
call until it listens again. PostgreSQL only: on SQLite nothing is kept."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.keys.provider import SoftwareKeyProvider
from core.keys.wrapping import KeyWrapper
from core.storage import change_feed
from core.storage.change_feed import ChangeFeed
from core.storage.engine import session_factory
from core.storage.key_records import SqlKeyRecords
from tests.conftest import backend_url, fresh_engine
from tests.support.eventually import until

OWNER = "verifier:bar-age-check"


@asynccontextmanager
async def _listening(url: str, count: int) -> AsyncIterator[list[ChangeFeed]]:
    feeds = [ChangeFeed(url) for _ in range(count)]
    tasks = [asyncio.create_task(feed.run()) for feed in feeds]
    try:
        await until(lambda: all(feed.live for feed in feeds))
        yield feeds
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with fresh_engine(backend_url("postgresql", tmp_path)) as engine:
        yield engine


def _url(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.mark.postgres
async def test_a_rotation_reaches_every_worker_as_it_commits(engine: AsyncEngine) -> None:
    command_line = SoftwareKeyProvider(
        SqlKeyRecords(session_factory(engine)), KeyWrapper(os.urandom(32))
    )
    first = await command_line.signer(OWNER)
    async with _listening(_url(engine), 2) as feeds:
        workers = [SqlKeyRecords(session_factory(engine), feed=feed) for feed in feeds]
        for worker in workers:
            for _ in range(3):
                record = await worker.active(OWNER)
                assert record is not None and record.kid == first.kid
            assert worker.reads == 1  # read once, then kept

        heard = [feed.generation for feed in feeds]
        rotated = await command_line.rotate(OWNER)  # another process: no feed of its own
        assert rotated.kid != first.kid
        for feed, worker, before in zip(feeds, workers, heard, strict=True):
            await until(lambda f=feed, b=before: f.generation > b)  # type: ignore[misc]
            record = await worker.active(OWNER)
            assert record is not None and record.kid == rotated.kid
            assert worker.reads == 2


@pytest.mark.postgres
async def test_an_administrators_sql_is_heard_too(engine: AsyncEngine) -> None:
    provider = SoftwareKeyProvider(
        SqlKeyRecords(session_factory(engine)), KeyWrapper(os.urandom(32))
    )
    key = await provider.signer(OWNER)
    async with _listening(_url(engine), 1) as (feed,):
        worker = SqlKeyRecords(session_factory(engine), feed=feed)
        await worker.active(OWNER)
        heard = feed.generation
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE signing_keys SET retired_at = 1 WHERE kid = :kid"), {"kid": key.kid}
            )
        await until(lambda: feed.generation > heard)
        assert await worker.active(OWNER) is None  # retired by hand: no active key
        assert worker.reads == 2


@pytest.mark.postgres
async def test_a_rolled_back_change_tells_nobody(engine: AsyncEngine) -> None:
    provider = SoftwareKeyProvider(
        SqlKeyRecords(session_factory(engine)), KeyWrapper(os.urandom(32))
    )
    key = await provider.signer(OWNER)
    async with _listening(_url(engine), 1) as (feed,):
        heard = feed.generation
        async with engine.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(
                text("UPDATE signing_keys SET retired_at = 1 WHERE kid = :kid"), {"kid": key.kid}
            )
            await transaction.rollback()
        async with engine.begin() as connection:  # a later commit elsewhere is heard
            await connection.execute(text("UPDATE signing_keys SET certificate_chain = '[]'"))
        await until(lambda: feed.generation > heard)
        assert feed.generation == heard + 1


@pytest.mark.postgres
async def test_a_lost_feed_reads_on_every_call_until_it_listens_again(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(change_feed, "RETRY_AFTER", 0.2)
    provider = SoftwareKeyProvider(
        SqlKeyRecords(session_factory(engine)), KeyWrapper(os.urandom(32))
    )
    await provider.signer(OWNER)
    async with _listening(_url(engine), 1) as (feed,):
        worker = SqlKeyRecords(session_factory(engine), feed=feed)
        await worker.active(OWNER)
        await worker.active(OWNER)
        assert worker.reads == 1
        pid = feed.server_pid
        assert pid is not None
        async with engine.begin() as connection:  # an administrator ends its session
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await until(lambda: not feed.live)
        before = feed.generation
        while not feed.live:
            reads = worker.reads
            await worker.active(OWNER)
            assert worker.reads == reads + 1  # nothing kept while deaf
            await asyncio.sleep(0.05)
        # listening again: what was read before may have changed unheard
        assert feed.generation > before and feed.server_pid != pid
        reads = worker.reads
        await worker.active(OWNER)
        await worker.active(OWNER)
        assert worker.reads == reads + 1


async def test_sqlite_keeps_nothing(tmp_path: Path) -> None:
    async with fresh_engine(backend_url("sqlite", tmp_path)) as engine:
        feed = ChangeFeed("postgresql://unused@127.0.0.1:1/none")
        feed.live = True  # even a feed said to be live is not used on SQLite
        records = SqlKeyRecords(session_factory(engine), feed=feed)
        provider = SoftwareKeyProvider(records, KeyWrapper(os.urandom(32)))
        await provider.signer(OWNER)
        reads = records.reads
        await records.active(OWNER)
        await records.active(OWNER)
        assert records.reads == reads + 2


class _Deaf(ChangeFeed):
    """A feed whose connection listens but hears nothing, as through a pooler in
    transaction mode, which does not carry notifications to the client."""

    def _heard(self, *_: object) -> None:
        return


@pytest.mark.postgres
async def test_a_feed_that_cannot_hear_its_own_probe_keeps_nothing(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(change_feed, "CHECK_TIMEOUT", 0.3)
    monkeypatch.setattr(change_feed, "RETRY_AFTER", 0.1)
    deaf = _Deaf(_url(engine))
    task = asyncio.create_task(deaf.run())
    try:
        await asyncio.sleep(1.5)  # several attempts, each refused by its unheard probe
        assert not deaf.live
        worker = SqlKeyRecords(session_factory(engine), feed=deaf)
        provider = SoftwareKeyProvider(worker, KeyWrapper(os.urandom(32)))
        await provider.signer(OWNER)
        reads = worker.reads
        await worker.active(OWNER)
        await worker.active(OWNER)
        assert worker.reads == reads + 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.postgres
async def test_other_feeds_probes_change_nothing(engine: AsyncEngine) -> None:
    """Every feed hears every other's probe: none of them makes anything stale."""
    async with _listening(_url(engine), 1) as (feed,):
        before = feed.generation
        async with engine.begin() as connection:
            await connection.execute(
                text("SELECT pg_notify('idwallet_changes', 'probe:another-worker')")
            )
            await connection.execute(text("UPDATE signing_keys SET certificate_chain = '[]'"))
        await until(lambda: feed.generation > before)
        assert feed.generation == before + 1  # the change, not the probe
