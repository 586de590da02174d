"""Capacity: ``idwallet serve --workers N`` for N = 1 and 2 on SQLite and PostgreSQL, under
the three mixes a deployment lives on, driven by the bounded loopback load generator at
16 concurrent clients: complete issuances (token + nonce + credential), complete
verifications (request + request object + direct_post) and complete presentations
through the mobile API (counter request + scan + consent + submit). Throughput, p50, p95
and p99 per mix, the scaling from one worker to two, and the resident memory of each
worker process after the run.

Nothing is pinned here: the workers and the load generator share this machine's CPUs,
as they would not in production (the load generator alone takes most of a core).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.http_issuance import (
    LoadResult,
    Measure,
    _database_env,
    fresh_postgres_database,
    measure_issuances,
)
from bench.http_verification import measure_verifications
from bench.http_wallet import measure_presentations
from tests.support.server import ROOT, idwallet_env, running_server

CONCURRENCY = 16
MIXES: tuple[tuple[str, Measure, int], ...] = (
    ("issuance", measure_issuances, 300),
    ("verification", measure_verifications, 300),
    ("wallet presentation", measure_presentations, 120),
)


@dataclass(frozen=True)
class CapacityResult:
    mix: str
    database: str
    workers: int
    load: LoadResult


@dataclass(frozen=True)
class WorkerMemory:
    database: str
    workers: int
    rss_mib: tuple[float, ...]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _worker_pids(server_pid: int, workers: int) -> list[int]:
    """The processes that serve requests: the server itself with one worker, else the
    children it spawned for them."""
    if workers == 1:
        return [server_pid]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == server_pid and b"spawn_main" in command:
            found.append(int(entry.name))
    return sorted(found)


def run(
    databases: dict[str, str | None],
) -> tuple[list[CapacityResult], list[WorkerMemory]]:
    results: list[CapacityResult] = []
    memory: list[WorkerMemory] = []
    for database, server_url in databases.items():
        for workers in (1, 2):
            with tempfile.TemporaryDirectory(prefix="idwallet-capacity-") as directory:
                var_dir = Path(directory)
                url = fresh_postgres_database(server_url) if server_url else None
                env = {**_database_env(url), "IDWALLET_WORKERS": str(workers)}
                subprocess.run(
                    [sys.executable, "-m", "app.cli", "migrate"],
                    cwd=ROOT,
                    check=True,
                    capture_output=True,
                    env=idwallet_env(var_dir, **env),
                )
                failure: Exception | None = None
                with running_server(var_dir, **env) as server:
                    try:
                        for mix, measure, count in MIXES:
                            load = asyncio.run(
                                measure(server.base_url, var_dir, database, CONCURRENCY, count)
                            )[0]
                            results.append(CapacityResult(mix, database, workers, load))
                    except RuntimeError as exc:
                        failure = exc
                    pids = _worker_pids(server.process.pid, workers)
                    memory.append(WorkerMemory(database, workers, tuple(_rss_mib(p) for p in pids)))
                if failure is not None:
                    raise RuntimeError(
                        f"{database}, {workers} workers: {failure}; the server said:\n"
                        f"{server.output[-6000:]}"
                    )
    return results, memory


def tables(results: list[CapacityResult], memory: list[WorkerMemory]) -> list[str]:
    lines = [
        "| mix | database | workers | per second | p50 ms | p95 ms | p99 ms | scaling 1 → 2 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    single = {(r.mix, r.database): r.load.per_second for r in results if r.workers == 1}
    for r in results:
        scaling = (
            f"{r.load.per_second / single[r.mix, r.database]:.2f}×"
            if r.workers == 2 and (r.mix, r.database) in single
            else ""
        )
        lines.append(
            f"| {r.mix} | {r.database} | {r.workers} | {r.load.per_second:,.1f} "
            f"| {r.load.percentile(0.5):,.1f} | {r.load.percentile(0.95):,.1f} "
            f"| {r.load.percentile(0.99):,.1f} | {scaling} |"
        )
    lines += [
        "",
        "| database | workers | resident memory per worker after the run (MiB) |",
        "| --- | ---: | --- |",
    ]
    for m in memory:
        lines.append(
            f"| {m.database} | {m.workers} | {', '.join(f'{v:,.0f}' for v in m.rss_mib)} |"
        )
    return lines
