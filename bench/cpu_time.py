"""CPU time spent in a timed section by the server's workers, the database server and the
load generator, read from ``/proc`` (Linux). On a machine whose cores are shared by all
three, throughput cannot show what another worker on its own core would add; CPU time per
operation can: a worker's capacity on a core of its own is one second over its CPU time
per operation, as long as that cost does not grow with the number of workers.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds used during one timed section."""

    workers: float
    database: float
    load_generator: float
    #: each worker's share of ``workers``, in the order of their pids
    worker_shares: tuple[float, ...] = ()


@dataclass(frozen=True)
class _Snapshot:
    workers: dict[int, float]
    database: dict[int, float]
    load_generator: float


class CpuWatch:
    """The processes to account: the server's workers by pid, and every process named
    ``postgres`` on this machine (the database server's backends) when asked."""

    def __init__(self, worker_pids: list[int], *, database: bool) -> None:
        self._worker_pids = worker_pids
        self._database = database

    def snapshot(self) -> _Snapshot:
        return _Snapshot(
            {pid: cpu_seconds(pid) for pid in self._worker_pids},
            {pid: cpu_seconds(pid) for pid in _postgres_pids()} if self._database else {},
            _own_cpu_seconds(),
        )

    def since(self, before: _Snapshot) -> CpuUse:
        after = self.snapshot()
        workers = _grown(before.workers, after.workers)
        return CpuUse(
            workers,
            _grown(before.database, after.database),
            after.load_generator - before.load_generator,
            tuple(
                (after.workers[pid] - before.workers.get(pid, 0.0)) / workers if workers else 0.0
                for pid in self._worker_pids
            ),
        )


_WATCH: ContextVar[CpuWatch | None] = ContextVar("cpu_watch", default=None)


def current_watch() -> CpuWatch | None:
    """The watch a timed section reports to, if a caller installed one."""
    return _WATCH.get()


@contextmanager
def watching(watch: CpuWatch) -> Iterator[None]:
    token = _WATCH.set(watch)
    try:
        yield
    finally:
        _WATCH.reset(token)


def _grown(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU added per process; a process that appeared during the section counts whole."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def cpu_seconds(pid: int) -> float:
    """User + system time of one process (fields 14 and 15 of ``/proc/<pid>/stat``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def wait_until_idle(pids: list[int], *, timeout: float = 60.0) -> None:
    """Until every process has used no CPU for a moment: a worker that answers nothing yet
    is still starting (importing, certifying keys), and connections opened meanwhile would
    all land on the workers that are up, and stay there."""
    deadline = time.monotonic() + timeout
    before = {pid: cpu_seconds(pid) for pid in pids}
    while time.monotonic() < deadline:
        time.sleep(0.5)
        after = {pid: cpu_seconds(pid) for pid in pids}
        if all(after[pid] - before[pid] < 0.02 for pid in pids):
            return
        before = after
    raise RuntimeError(f"workers {pids} did not settle within {timeout:.0f} s")


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids
