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


@dataclass(eq=False, slots=True)
class StreamSlot:
    """One open stream: woken when something is stored for its account; ``ended`` when
    its device was revoked on this worker."""

    account_id: str
    device_id: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False


@dataclass(slots=True)
class NotificationHub:
    max_streams: int = 500
    streams_per_account: int = 5
    max_pushes: int = 256
    _waiting: dict[str, set[StreamSlot]] = field(default_factory=dict)
    _open: int = 0
    _pushes: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def open_streams(self) -> int:
        return self._open

    def has_room(self, account_id: str) -> bool:
        """Whether a stream of the account could open now (``open_stream`` decides)."""
        held = len(self._waiting.get(account_id, ()))
        return self._open < self.max_streams and held < self.streams_per_account

    def open_stream(self, account_id: str, device_id: str = "") -> StreamSlot:
        """The stream's slot; ``TooManyStreams`` beyond the bounds. Whoever opens it
        closes it (``close_stream``), in a ``finally``."""
        if not self.has_room(account_id):
            raise TooManyStreams
        slot = StreamSlot(account_id, device_id)
        self._waiting.setdefault(account_id, set()).add(slot)
        self._open += 1
        return slot

    def close_stream(self, slot: StreamSlot) -> None:
        slots = self._waiting.get(slot.account_id)
        if slots is None or slot not in slots:
            return
        slots.discard(slot)
        self._open -= 1
        if not slots:
            del self._waiting[slot.account_id]

    def wake(self, account_id: str) -> None:
        for slot in self._waiting.get(account_id, ()):
            slot.wake.set()

    def end_device(self, account_id: str, device_id: str) -> None:
        """The device was revoked: its streams on this worker end at once."""
        for slot in self._waiting.get(account_id, ()):
            if slot.device_id == device_id:
                slot.ended = True
                slot.wake.set()

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
