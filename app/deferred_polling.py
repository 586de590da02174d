"""The wallet's deferred-credential poller, a task of each worker beside the minute
housekeeping: it sleeps until the earliest pending issuance is due (the issuer's
``interval``), asks the issuers about those that are, and sleeps again; this worker
leaving an issuance pending wakes it early (``WalletContext.pending_changed``). Its bounds
and what one pass does are ``wallet.services.poll_deferred``'s.

A pass that fails (the database away) is logged by its kind and the poller tries again
after ``min_deferred_interval``. On shutdown the issuance being asked about is let finish
(within ``STOP_WAIT`` seconds) and no other is started, so no issuance is cut off in
the middle of its step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from wallet.services.context import WalletContext
from wallet.services.poll_deferred import DeferredPoller

#: Seconds a shutdown waits for the issuance being asked about.
STOP_WAIT = 20.0


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)


@contextlib.asynccontextmanager
async def polling_deferred(context: WalletContext, log: logging.Logger) -> AsyncIterator[None]:
    poller = DeferredPoller(context)
    stopping = asyncio.Event()
    wake = context.pending_changed
    clock = asyncio.get_running_loop().time

    async def loop() -> None:
        while not stopping.is_set():
            wake.clear()  # what is left pending from now on is seen by the next sleep_for
            started = clock()
            try:
                arrived = await poller.poll(stopping.is_set)
                if arrived:
                    log.info("%d deferred credentials arrived", arrived)
                delay = await poller.sleep_for()
            except Exception as exc:
                log.warning("fetching deferred credentials failed: %s", type(exc).__name__)
                delay = float(context.policy.min_deferred_interval)
            if stopping.is_set():
                return
            await _wait(wake, delay)
            # woken early or not: passes at least deferred_poll_shortest apart
            rest = context.policy.deferred_poll_shortest - (clock() - started)
            if rest > 0:
                await _wait(stopping, rest)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        stopping.set()
        wake.set()
        try:
            await asyncio.wait_for(task, timeout=STOP_WAIT)
        except TimeoutError:
            log.warning("the deferred-credential poller did not stop in time")
        except Exception as exc:
            log.warning("the deferred-credential poller failed: %s", type(exc).__name__)
