"""A worker keeps a session's check (the device active, its account) while its change feed
is live and has heard of no revoked device or deleted account: any process that revokes
or deletes is heard by every worker as it commits, and the worker that did it forgets at
once. PostgreSQL only; on SQLite every request checks the database."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.change_feed import ChangeFeed
from core.storage.engine import session_factory
from tests.conftest import backend_url, fresh_engine
from tests.support.eventually import until
from wallet.domain import Account, Device
from wallet.storage.sql import SqlWalletStore

pytestmark = pytest.mark.postgres


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with fresh_engine(backend_url("postgresql", tmp_path)) as engine:
        yield engine


@asynccontextmanager
async def _workers(engine: AsyncEngine, count: int) -> AsyncIterator[list[SqlWalletStore]]:
    url = engine.url.render_as_string(hide_password=False)
    feeds = [ChangeFeed(url) for _ in range(count)]
    tasks = [asyncio.create_task(feed.run()) for feed in feeds]
    try:
        await until(lambda: all(feed.live for feed in feeds))
        yield [SqlWalletStore(session_factory(engine), feed) for feed in feeds]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _citizen(store: SqlWalletStore) -> tuple[str, str]:
    account_id, device_id = secrets.token_hex(8), secrets.token_hex(8)
    await store.accounts.create(
        Account(account_id, b"wrapped", 1.0),
        Device(device_id, account_id, secrets.token_hex(16), {}, b"name", 1.0, None),
    )
    return account_id, device_id


async def test_a_device_revoked_anywhere_ends_its_kept_checks(engine: AsyncEngine) -> None:
    elsewhere = SqlWalletStore(session_factory(engine))  # another process, no feed
    account_id, device_id = await _citizen(elsewhere)
    async with _workers(engine, 2) as workers:
        for worker in workers:
            for _ in range(3):
                account = await worker.devices.session_account(account_id, device_id)
                assert account is not None and account.account_id == account_id
            assert worker.devices.reads == 1  # checked once, then kept
        assert await elsewhere.devices.revoke(account_id, device_id, 2.0)
        for worker in workers:
            deadline = asyncio.get_running_loop().time() + 10
            while await worker.devices.session_account(account_id, device_id) is not None:
                assert asyncio.get_running_loop().time() < deadline, "still signed in"
                await asyncio.sleep(0.01)


async def test_the_worker_that_revokes_forgets_at_once(engine: AsyncEngine) -> None:
    async with _workers(engine, 1) as (worker,):
        account_id, device_id = await _citizen(worker)
        assert await worker.devices.session_account(account_id, device_id) is not None
        assert await worker.devices.revoke(account_id, device_id, 2.0)
        # no waiting for the notification to come back
        assert await worker.devices.session_account(account_id, device_id) is None


async def test_a_deleted_account_ends_its_kept_checks(engine: AsyncEngine) -> None:
    elsewhere = SqlWalletStore(session_factory(engine))
    account_id, device_id = await _citizen(elsewhere)
    other_account, other_device = await _citizen(elsewhere)
    async with _workers(engine, 1) as (worker,):
        assert await worker.devices.session_account(account_id, device_id) is not None
        assert await worker.devices.session_account(other_account, other_device) is not None
        assert await elsewhere.accounts.delete(account_id)
        deadline = asyncio.get_running_loop().time() + 10
        while await worker.devices.session_account(account_id, device_id) is not None:
            assert asyncio.get_running_loop().time() < deadline, "still signed in"
            await asyncio.sleep(0.01)
        # the other citizen's check is read again once, then kept again
        reads = worker.devices.reads
        assert await worker.devices.session_account(other_account, other_device) is not None
        assert await worker.devices.session_account(other_account, other_device) is not None
        assert worker.devices.reads == reads + 1


async def test_a_refused_check_is_never_kept(engine: AsyncEngine) -> None:
    async with _workers(engine, 1) as (worker,):
        account_id, device_id = await _citizen(worker)
        assert await worker.devices.session_account(account_id, "no-such-device") is None
        assert await worker.devices.session_account(account_id, "no-such-device") is None
        assert worker.devices.reads == 2
        assert await worker.devices.session_account(account_id, device_id) is not None


async def test_a_sign_ins_device_read_is_kept_until_a_revocation(engine: AsyncEngine) -> None:
    elsewhere = SqlWalletStore(session_factory(engine))
    account_id, device_id = await _citizen(elsewhere)
    async with _workers(engine, 1) as (worker,):
        for _ in range(3):
            device = await worker.devices.by_device_id(device_id)
            assert device is not None and device.active
        assert worker.devices.reads == 1
        assert await worker.devices.by_device_id("unknown") is None
        assert await worker.devices.by_device_id("unknown") is None
        assert worker.devices.reads == 3  # an unknown device is never kept
        assert await elsewhere.devices.revoke(account_id, device_id, 2.0)
        deadline = asyncio.get_running_loop().time() + 10
        while (device := await worker.devices.by_device_id(device_id)) and device.active:
            assert asyncio.get_running_loop().time() < deadline, "still active"
            await asyncio.sleep(0.01)
        assert device is not None and device.revoked_at == 2.0
