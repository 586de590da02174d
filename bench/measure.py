"""Timing and memory of one operation: best of several repeats of a calibrated loop."""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Measurement:
    name: str
    seconds_per_op: float
    peak_bytes: int

    @property
    def ops_per_second(self) -> float:
        return 1.0 / self.seconds_per_op

    @property
    def microseconds(self) -> float:
        return self.seconds_per_op * 1e6


def pin_to_one_core() -> str:
    """Run on a single CPU so results do not depend on what else the machine does."""
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"
    return f"pinned to CPU {cpu}"


def _calibrate(operation: Callable[[], Any], seconds: float) -> int:
    operation()  # warm caches (imports, parsed keys) the way a running server has them
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            operation()
        if time.perf_counter() - start >= seconds or loops >= 1_000_000:
            return loops
        loops *= 2


def _peak_bytes(operation: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        operation()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def measure_together(
    operations: dict[str, Callable[[], Any]],
    *,
    seconds: float = 0.02,
    rounds: int = 40,
    statistic: Callable[[list[float]], float] = min,
) -> dict[str, Measurement]:
    """Time several operations in interleaved rounds (the best round of each, or another
    ``statistic`` of the rounds such as the median), so that a slow spell of the machine
    hits them all alike rather than whichever ran then."""
    loops = {name: _calibrate(op, seconds) for name, op in operations.items()}
    times: dict[str, list[float]] = {name: [] for name in operations}
    for _ in range(rounds):
        for name, operation in operations.items():
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter()
                for _ in range(loops[name]):
                    operation()
                times[name].append((time.perf_counter() - start) / loops[name])
            finally:
                gc.enable()
    return {
        name: Measurement(name, statistic(times[name]), _peak_bytes(op))
        for name, op in operations.items()
    }
