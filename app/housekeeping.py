"""Housekeeping the roles need while the app runs: a task that calls ``purge`` every
minute, whatever the role, logging failures without stopping (the database may be away).
After a purge that deleted something, what the database still keeps of the deleted rows
(SQLite's write-ahead log) is cleared too."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.engine import forget_deleted_data

PURGE_EVERY_SECONDS = 60.0


async def purge_and_forget(purge: Callable[[], Awaitable[int]], engine: AsyncEngine) -> int:
    """One housekeeping pass: purge, and when rows went, clear their traces."""
    purged = await purge()
    if purged:
        await forget_deleted_data(engine)
    return purged


@contextlib.asynccontextmanager
async def every_minute(
    purge: Callable[[], Awaitable[int]], log: logging.Logger, what: str, engine: AsyncEngine
) -> AsyncIterator[None]:
    async def loop() -> None:
        while True:
            try:
                purged = await purge_and_forget(purge, engine)
                if purged:
                    log.info("purged %d %s", purged, what)
            except Exception as exc:
                log.warning("purging %s failed: %s", what, type(exc).__name__)
            await asyncio.sleep(PURGE_EVERY_SECONDS)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
