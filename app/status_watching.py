"""The status-list watching as a task of each worker (``wallet.services.watch_statuses``):
every ``IDWALLET_STATUS_WATCH_EVERY`` seconds the worker tries to take the deployment's
lease on the task (``wallet_task_leases``: one statement decides, on SQLite and
PostgreSQL alike); the one that holds it runs a pass, the others sleep. A worker that
stops or dies loses the lease when it lapses (three intervals, at least two minutes), and
another takes it over; the holder renews it before each list it fetches, and stops the
pass where it finds it taken. A pass that leaves lists due (a mass event, more lists due
than one pass fetches) is followed by the next at once. A pass that fails (the database
away) is logged by its kind."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from wallet.services.context import WalletContext
from wallet.services.watch_statuses import WATCH_TASK, WatchReport, watch_pass


def lease_seconds(every: float) -> float:
    return max(3 * every, 120.0)


async def watch_once(context: WalletContext, holder: str, every: float) -> WatchReport | None:
    """One pass when this worker holds the lease (None when another does)."""
    store = context.store.status_watching

    async def keep_lease() -> bool:
        return await store.lease(WATCH_TASK, holder, context.clock.now(), lease_seconds(every))

    if not await keep_lease():
        return None
    return await watch_pass(context, keep_lease)


@contextlib.asynccontextmanager
async def watching_statuses(
    context: WalletContext, log: logging.Logger, every: float
) -> AsyncIterator[None]:
    holder = str(uuid.uuid4())
    stopping = asyncio.Event()

    async def loop() -> None:
        while not stopping.is_set():
            report = None
            try:
                report = await watch_once(context, holder, every)
                if report is not None and (report.notified or report.expiry_notices):
                    log.info(
                        "status watching: %d lists checked, %d notifications",
                        report.lists_checked,
                        report.notified + report.expiry_notices,
                    )
            except Exception as exc:
                log.warning("status watching failed: %s", type(exc).__name__)
            if report is not None and report.more:
                await asyncio.sleep(0)  # let the worker's requests in between
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=every)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        stopping.set()
        try:
            await asyncio.wait_for(task, timeout=20)
        except TimeoutError:
            log.warning("the status watching did not stop in time")
        await context.notices.drain()
