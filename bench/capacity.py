"""Capacity: ``idwallet serve --workers N`` for N = 1 and 2 on SQLite and PostgreSQL, under
the three mixes a deployment lives on, driven by the bounded loopback load generator at
16 concurrent clients: complete issuances (token + nonce + credential), complete
verifications (request + request object + direct_post) and complete presentations
through the mobile API (counter request + scan + consent + submit). Throughput, p50, p95
and p99 per mix, the scaling from one worker to two, and the resident memory of each
worker process after the run.

Nothing is pinned here: the workers, the database server and the load generator share
this machine's CPUs, as they would not in production. Where the cores are all busy, a
second worker cannot add throughput; so each mix also records the CPU time its workers,
the database server and the load generator spent per operation (bench/cpu_time.py). A
worker's capacity on a core of its own follows from its CPU time per operation, and the
same cost with two workers as with one shows that workers share nothing but the database.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from bench.cpu_budget import cpu_budget, why_no_budget
from bench.cpu_time import CpuWatch, wait_until_idle, watching
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
#: The share of a core each worker gets in the budgeted runs: two workers take 0.8 of the
#: machine's two cores, leaving the rest to the database server and the load generator.
WORKER_BUDGET = 0.4
#: Budgeted runs alternate one worker and two this many times; the best of each counts,
#: so a passing disturbance of this shared machine (a checkpoint, a neighbour) does not.
BUDGET_ROUNDS = 2
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
    #: each worker's CPU budget in cores, or None where the workers ran free
    budget: float | None = None


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


@dataclass(frozen=True)
class Capacity:
    results: list[CapacityResult]
    memory: list[WorkerMemory]
    #: why workers could not be held to a CPU budget here, if they could not
    budget_unavailable: str | None


def run(databases: dict[str, str | None]) -> Capacity:
    results: list[CapacityResult] = []
    memory: list[WorkerMemory] = []
    for database, server_url in databases.items():
        for workers in (1, 2):
            loads, rss = _serve_and_measure(database, server_url, workers, None)
            results += [CapacityResult(mix, database, workers, load) for mix, load in loads]
            memory.append(WorkerMemory(database, workers, rss))
    budget_unavailable = why_no_budget()
    if budget_unavailable is None:
        budgeted: dict[tuple[str, str, int], CapacityResult] = {}
        for _ in range(BUDGET_ROUNDS):
            for database, server_url in databases.items():
                for workers in (1, 2):
                    loads, _ = _serve_and_measure(database, server_url, workers, WORKER_BUDGET)
                    for mix, load in loads:
                        best = budgeted.get((mix, database, workers))
                        if best is None or load.per_second > best.load.per_second:
                            budgeted[mix, database, workers] = CapacityResult(
                                mix, database, workers, load, WORKER_BUDGET
                            )
        results += budgeted.values()
    return Capacity(results, memory, budget_unavailable)


def _serve_and_measure(
    database: str, server_url: str | None, workers: int, budget: float | None
) -> tuple[list[tuple[str, LoadResult]], tuple[float, ...]]:
    """A fresh database and ``idwallet serve --workers N`` on it (each worker held to
    ``budget`` cores where given), every mix measured; each worker's memory after."""
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
        loads: list[tuple[str, LoadResult]] = []
        failure: Exception | None = None
        with running_server(var_dir, **env) as server:
            pids = _worker_pids(server.process.pid, workers)
            wait_until_idle(pids)
            watch = CpuWatch(pids, database=server_url is not None)
            with cpu_budget(pids, budget) if budget else nullcontext():
                try:
                    for mix, measure, count in MIXES:
                        with watching(watch):
                            load = asyncio.run(
                                measure(server.base_url, var_dir, database, CONCURRENCY, count)
                            )[0]
                        loads.append((mix, load))
                except RuntimeError as exc:
                    failure = exc
            rss = tuple(_rss_mib(p) for p in pids)
        if failure is not None:
            raise RuntimeError(
                f"{database}, {workers} workers: {failure}; the server said:\n"
                f"{server.output[-6000:]}"
            )
        return loads, rss


def tables(capacity: Capacity) -> list[str]:
    free = [r for r in capacity.results if r.budget is None]
    lines = _throughput_table(free)
    lines += ["", *_cpu_table(free), ""]
    lines += [
        "| database | workers | resident memory per worker after the run (MiB) |",
        "| --- | ---: | --- |",
    ]
    for m in capacity.memory:
        lines.append(
            f"| {m.database} | {m.workers} | {', '.join(f'{v:,.0f}' for v in m.rss_mib)} |"
        )
    budgeted = [r for r in capacity.results if r.budget is not None]
    lines += ["", f"Each worker held to {WORKER_BUDGET} of a core:", ""]
    if capacity.budget_unavailable:
        lines.append(f"Not measured: {capacity.budget_unavailable}.")
    else:
        lines += [*_throughput_table(budgeted), "", *_cpu_table(budgeted)]
    return lines


def _throughput_table(results: list[CapacityResult]) -> list[str]:
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
    return lines


def _cpu_table(results: list[CapacityResult]) -> list[str]:
    """CPU milliseconds per operation by the workers, the database server (PostgreSQL;
    on SQLite it runs inside the workers) and the load generator, how many cores were
    busy, and what one worker does per second of its own core."""
    lines = [
        "| mix | database | workers | worker CPU ms/op | database CPU ms/op"
        " | load generator CPU ms/op | cores busy | per worker core, per second"
        " | workers' shares of their CPU |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        cpu = r.load.cpu
        if cpu is None:
            continue
        per_op = 1000 / r.load.completed
        busy = (cpu.workers + cpu.database + cpu.load_generator) / r.load.seconds
        database = f"{cpu.database * per_op:.2f}" if r.database != "SQLite" else "(in workers)"
        lines.append(
            f"| {r.mix} | {r.database} | {r.workers} | {cpu.workers * per_op:.2f} "
            f"| {database} | {cpu.load_generator * per_op:.2f} | {busy:.2f} "
            f"| {r.load.completed / cpu.workers:,.0f} "
            f"| {' / '.join(f'{share:.0%}' for share in cpu.worker_shares)} |"
        )
    return lines
