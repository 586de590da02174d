"""A fixed CPU budget per process, through the Linux cgroup (v1) CPU controller: each
process gets a group of its own whose quota is ``cores`` of one core. With every worker
held to the same budget, and cores left over for the database server and the load
generator, one worker against two shows the scaling a host with a core per worker gets,
on a machine with two cores in all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

CPU_CONTROLLER = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 100_000


def why_no_budget() -> str | None:
    """None where budgets can be set here, else the reason."""
    if not (CPU_CONTROLLER / "cpu.cfs_quota_us").exists():
        return "no cgroup v1 CPU controller at /sys/fs/cgroup/cpu"
    if not os.access(CPU_CONTROLLER, os.W_OK):
        return "the cgroup CPU controller is not writable by this user"
    return None


@contextmanager
def cpu_budget(pids: list[int], cores: float) -> Iterator[None]:
    """Each of ``pids`` (with its threads, present and future) held to ``cores``."""
    groups: list[Path] = []
    try:
        for pid in pids:
            group = CPU_CONTROLLER / f"idwallet-bench-{pid}"
            group.mkdir(exist_ok=True)
            groups.append(group)
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(int(cores * PERIOD_US)))
            (group / "cgroup.procs").write_text(str(pid))
        yield
    finally:
        for group in groups:
            for member in (group / "cgroup.procs").read_text().split():
                with suppress(OSError):  # the process may have ended meanwhile
                    (CPU_CONTROLLER / "cgroup.procs").write_text(member)
            with suppress(OSError):
                group.rmdir()
