"""A cap on pending state (live sign-in challenges, a counter's open requests, an agency's
waiting offers) that costs next to nothing per request.

Counting the live rows on every request would make each request pay for all the pending
state before it, which under a flood is exactly the wrong way round. Instead each process
counts at most once per ``recount_every`` seconds (the count itself stops at the cap) and
adds what it admitted since; several workers may each admit a little past the cap within
one interval, so the bound is the cap plus what the workers admit in that interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Tally:
    live: int
    counted_at: float


class PendingCap:
    def __init__(self, cap: int, *, recount_every: float = 1.0) -> None:
        if cap < 1:
            raise ValueError("a cap must be at least 1")
        self.cap = cap
        self._recount_every = recount_every
        self._tallies: dict[str, _Tally] = {}
        self._lock = asyncio.Lock()

    async def admit(self, key: str, now: float, count: Callable[[int], Awaitable[int]]) -> bool:
        """Whether one more pending item of ``key`` fits; ``count(limit)`` counts the live
        ones (up to ``limit``) when the last count is too old."""
        async with self._lock:
            tally = self._tallies.get(key)
            if tally is None or now - tally.counted_at >= self._recount_every:
                tally = _Tally(await count(self.cap), now)
                self._tallies[key] = tally
            if tally.live >= self.cap:
                return False
            tally.live += 1
            return True
