"""Counting busy budgets in Redis without a round trip per request: quota leases.

A round trip to Redis costs a worker about as much CPU as a trivial request itself, so
counting every request there doubles the cost of the cheapest endpoints. Most budgets are
quiet (a citizen's address sends a handful of requests a minute) and are counted one by
one, exactly. A budget that is busy in this worker takes its units in leases instead: one
atomic ``INCRBY n`` on the shared counter hands this worker the request numbers
``count - n + 1 … count`` of the window, and the worker serves up to ``n`` requests from
them without asking again.

The limit still holds across every worker and node: a number is handed out once, by
Redis, and only numbers within the quota admit a request, so no window ever admits more
than its quota. What a lease can cost is the other way round: numbers a worker leased and
did not use before the lease lapsed are lost to the budget, so a busy client may be
refused slightly before its quota is spent. Leases are kept small for that reason: they
grow only while a worker uses them up quickly, never beyond a quarter of what is left of
the quota (so a budget's last units go one by one), and they lapse after
``LEASE_SECONDS``, which also keeps leased numbers from spilling far into the next window.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

#: a lease not used up within this long lapses (its remaining numbers are lost)
LEASE_SECONDS = 1.0
#: a lease used up faster than this makes the next one twice as large
BUSY_SECONDS = 0.1
MAX_LEASE = 256
#: quotas smaller than this are always counted one by one
MIN_QUOTA_FOR_LEASES = 64
#: at most this many budgets are remembered per worker
MAX_LEASES = 100_000

Increment = Callable[[str, int, int], Awaitable[int]]


@dataclass(slots=True)
class _Lease:
    #: the next number to hand out, and the last this worker may (numbers beyond the
    #: quota once the window's quota is spent: requests are then refused here, unasked)
    next_number: int
    last_number: int
    size: int
    taken_at: float


class QuotaLeases:
    def __init__(self, increment: Increment) -> None:
        """``increment(key, expiry, amount)``: the shared counter's value after an atomic
        increment by ``amount`` (opening the window with ``expiry`` on its first use)."""
        self._increment = increment
        self._leases: dict[str, _Lease] = {}
        #: budgets whose next lease is being taken: their other requests wait for it
        self._pending: dict[str, asyncio.Future[None]] = {}

    async def number(self, key: str, expiry: int, quota: int) -> int:
        """This request's number in its window: it is admitted when at most ``quota``."""
        while True:
            now = time.monotonic()
            lease = self._leases.get(key)
            fresh = lease is not None and now - lease.taken_at < LEASE_SECONDS
            if lease is not None and fresh and lease.next_number <= lease.last_number:
                number = lease.next_number
                lease.next_number += 1
                return number
            pending = self._pending.get(key)
            if pending is None:
                break
            await asyncio.shield(pending)  # another request of this budget is leasing
        if lease is not None and fresh:
            busy = now - lease.taken_at < BUSY_SECONDS
            size = lease.size * 2 if busy else lease.size
            left = quota - min(lease.last_number, quota)
        else:
            size, left = 1, quota
        size = 1 if quota < MIN_QUOTA_FOR_LEASES else max(1, min(size, MAX_LEASE, left // 4))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[key] = done
        try:
            count = await self._increment(key, expiry, size)
        finally:
            del self._pending[key]
            done.set_result(None)
        first = count - size + 1
        # beyond the quota, the rest of the lease's time refuses without asking Redis
        last = min(count, quota) if first <= quota else first + MAX_LEASE * 4
        if len(self._leases) >= MAX_LEASES and key not in self._leases:
            self._leases.clear()  # a worker seeing very many budgets at once starts over
        self._leases[key] = _Lease(first + 1, last, size, now)
        return first
