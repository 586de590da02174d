"""Housekeeping the roles need while the app runs: a task that calls ``purge`` every
minute, whatever the role, logging failures without stopping (the database may be away)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

PURGE_EVERY_SECONDS = 60.0


@contextlib.asynccontextmanager
async def every_minute(
    purge: Callable[[], Awaitable[int]], log: logging.Logger, what: str
) -> AsyncIterator[None]:
    async def loop() -> None:
        while True:
            try:
                purged = await purge()
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
