"""What one worker keeps for the citizens' live notifications: the open streams (bounded,
``GET /wallet/notifications/stream``), woken at once when this worker stores a
notification for their account (streams also look at the store every few seconds, so
what other workers store reaches them too), and the Web Push deliveries under way
(bounded: the status watching waits for room, ``queue``; a request past the bound leaves
its push out, ``spawn``: the feed and the streams still have it)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("idwallet.wallet")


class TooManyStreams(Exception):
    """This worker has as many open streams as it keeps (or the account has)."""


@dataclass(slots=True)
class NotificationHub:
    max_streams: int = 500
    streams_per_account: int = 5
    max_pushes: int = 256
    _waiting: dict[str, set[asyncio.Event]] = field(default_factory=dict)
    _open: int = 0
    _pushes: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def open_streams(self) -> int:
        return self._open

    def open_stream(self, account_id: str) -> asyncio.Event:
        """The event that wakes this stream; ``TooManyStreams`` beyond the bounds."""
        events = self._waiting.get(account_id, set())
        if self._open >= self.max_streams or len(events) >= self.streams_per_account:
            raise TooManyStreams
        event = asyncio.Event()
        self._waiting.setdefault(account_id, set()).add(event)
        self._open += 1
        return event

    def close_stream(self, account_id: str, event: asyncio.Event) -> None:
        events = self._waiting.get(account_id)
        if events is None or event not in events:
            return
        events.discard(event)
        self._open -= 1
        if not events:
            del self._waiting[account_id]

    def wake(self, account_id: str) -> None:
        for event in self._waiting.get(account_id, ()):
            event.set()

    def spawn(self, delivery: Coroutine[Any, Any, None]) -> None:
        """Run a push delivery in the background (the notification is stored already)."""
        if len(self._pushes) >= self.max_pushes:
            delivery.close()
            log.warning("push deliveries: %d under way, one left out", len(self._pushes))
            return
        self._start(delivery)

    async def queue(self, delivery: Coroutine[Any, Any, None]) -> None:
        """Run a push delivery in the background once fewer than ``max_pushes`` are under
        way (the caller waits for room: none is left out)."""
        try:
            while len(self._pushes) >= self.max_pushes:
                await asyncio.wait(set(self._pushes), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            delivery.close()
            raise
        self._start(delivery)

    def _start(self, delivery: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(delivery)
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    async def drain(self) -> None:
        """Wait for the deliveries under way (shutdown, tests)."""
        while self._pushes:
            await asyncio.gather(*list(self._pushes), return_exceptions=True)
