"""Injected time: every component that needs "now" takes a ``Clock``."""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class FixedClock:
    """A clock that only moves when told to (tests, vectors with fixed dates)."""

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


SYSTEM_CLOCK = SystemClock()


def rfc3339(timestamp: float) -> str:
    """``2026-11-29T21:50:56Z``: a timestamp as the APIs write it (RFC 3339, UTC, seconds)."""
    return (
        dt.datetime.fromtimestamp(timestamp, dt.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )
