"""What rate limiting costs a trivial endpoint: ``POST /issuers/civil-registry/nonce`` (in
the ``nonce`` class; it reads no database, so the limiter's share shows rather than hides)
on ``idwallet serve`` with one worker pinned to one CPU, with limiting off, on in process
memory (the embedded default) and on in Redis where one answers, all in the same run.
The limit is set far above what the run sends, so every request is counted and none is
refused. The servers take turns in rounds; each one's best round counts, so a passing
disturbance of this shared machine hits no configuration alone. Run by ``make bench``, or
alone with ``python -m bench.rate_limit_overhead`` (which rewrites its own section of
``docs/benchmarks.md``)."""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.cpu_time import cpu_seconds
from bench.http_client import Connection
from bench.sections import splice_section
from tests.support.server import running_server

NONCE = "/issuers/civil-registry/nonce"
CONCURRENCY = 16
REQUESTS_PER_ROUND = 2000
ROUNDS = 11
UNREACHABLE_LIMIT = "nonce=1000000000/minute"
REDIS_URL = os.environ.get("IDWALLET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
HEADING = "## Rate limiting overhead"
OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Throughput:
    configuration: str
    #: the best round's figures
    per_second: float
    p50_ms: float
    p99_ms: float
    #: the worker's CPU time per request, its least in any round
    cpu_us: float
    #: against limiting off in the same round (1 / throughput, the worker's CPU time),
    #: the median over the rounds: what the configuration costs, the machine's moods aside
    slower: float = 0.0
    costlier: float = 0.0


@dataclass(frozen=True)
class RateLimitOverhead:
    results: list[Throughput]
    redis_unavailable: str | None

    def of(self, configuration: str) -> Throughput:
        return next(r for r in self.results if r.configuration == configuration)


@dataclass(frozen=True)
class _Round:
    per_second: float
    latencies: list[float]
    cpu_us: float


async def _round(base: str, pid: int) -> _Round:
    connections = [Connection(base) for _ in range(CONCURRENCY)]
    latencies: list[float] = []
    queue = iter(range(REQUESTS_PER_ROUND))

    async def client(connection: Connection) -> None:
        for _ in queue:
            started = time.perf_counter()
            response = await connection.request("POST", NONCE)
            if response.status != 200:
                raise RuntimeError(f"nonce answered {response.status}: {response.body[:200]!r}")
            latencies.append(time.perf_counter() - started)

    try:
        for connection in connections:  # open and warm every connection first
            await connection.request("POST", NONCE)
        cpu_before, started = cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(client(c) for c in connections))
        seconds, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu_before
    finally:
        for connection in connections:
            await connection.close()
    return _Round(REQUESTS_PER_ROUND / seconds, latencies, cpu / REQUESTS_PER_ROUND * 1e6)


def _redis_answers() -> str | None:
    from tests.support.redis import answers

    host_port = REDIS_URL.split("://", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    return None if answers(host, int(port)) else f"nothing answers at {REDIS_URL}"


def run() -> RateLimitOverhead:
    configurations: dict[str, dict[str, str]] = {
        "off": {"IDWALLET_RATE_LIMITS": "off"},
        "in process": {"IDWALLET_RATE_LIMITS": UNREACHABLE_LIMIT},
    }
    redis_unavailable = _redis_answers()
    if redis_unavailable is None:
        configurations["Redis"] = {
            "IDWALLET_RATE_LIMITS": UNREACHABLE_LIMIT,
            "IDWALLET_REDIS_URL": REDIS_URL,
            "IDWALLET_REDIS_KEY_PREFIX": f"idwallet-bench-{secrets.token_hex(4)}",
        }
    prefix: list[str] = []
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1:
        prefix = ["taskset", "-c", "0"]  # the servers on the first CPU
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})  # the load on another
    rounds: dict[str, list[_Round]] = {name: [] for name in configurations}
    with ExitStack() as stack:
        servers = {}
        for name, env in configurations.items():
            var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="idwallet-rl-")))
            servers[name] = stack.enter_context(
                running_server(var_dir, command_prefix=prefix, IDWALLET_LOG_LEVEL="WARNING", **env)
            )
        names = list(servers)
        for round_number in range(ROUNDS):  # each configuration goes first in turn
            for name in names[round_number % len(names) :] + names[: round_number % len(names)]:
                server = servers[name]
                rounds[name].append(asyncio.run(_round(server.base_url, server.process.pid)))
    off = rounds["off"]
    results = []
    for name, measured in rounds.items():
        best = max(measured, key=lambda r: r.per_second)
        ordered = sorted(best.latencies)
        results.append(
            Throughput(
                name,
                best.per_second,
                ordered[len(ordered) // 2] * 1000,
                ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
                min(r.cpu_us for r in measured),
                statistics.median(
                    o.per_second / m.per_second - 1 for o, m in zip(off, measured, strict=True)
                ),
                statistics.median(
                    m.cpu_us / o.cpu_us - 1 for o, m in zip(off, measured, strict=True)
                ),
            )
        )
    return RateLimitOverhead(results, redis_unavailable)


def section(overhead: RateLimitOverhead) -> list[str]:
    lines = [
        HEADING,
        "",
        "`POST /issuers/civil-registry/nonce` (the `nonce` class; no database) on one worker",
        "pinned to one CPU, the load generator on the other, "
        f"{CONCURRENCY} keep-alive connections, {REQUESTS_PER_ROUND:,} requests a round:",
        "limiting off, on in process memory (the embedded default) and on in Redis, the",
        f"servers taking turns for {ROUNDS} rounds. Every request is counted (a limit far above",
        "the run, so none is refused): one increment of a fixed-window counter and two",
        "response fields. Throughput and latency are the best round's; the overhead is the",
        "median over the rounds of each round's figure against limiting off in that round,",
        "in time per request (1 / throughput) and in the worker's CPU time per request.",
        "",
        "| rate limiting | per second | p50 ms | p99 ms | worker CPU µs per request "
        "| time per request | worker CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in overhead.results:
        slower = costlier = ""
        if r.configuration != "off":
            slower, costlier = f"{r.slower:+.1%}", f"{r.costlier:+.1%}"
        lines.append(
            f"| {r.configuration} | {r.per_second:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
            f"| {r.cpu_us:,.0f} | {slower} | {costlier} |"
        )
    embedded = overhead.of("in process")
    met = "met" if max(embedded.slower, embedded.costlier) <= 0.10 else "NOT met"
    lines += [
        "",
        "Target: at most 10% slower with limiting in process (the embedded default): "
        f"{embedded.slower:+.1%} in time, {embedded.costlier:+.1%} in CPU, {met}.",
    ]
    if overhead.redis_unavailable:
        lines.append(f"Redis was not measured: {overhead.redis_unavailable}.")
    else:
        lines += [
            "With Redis the worker also runs the Redis client: each turn of its event loop sends",
            "the increments of its requests in one pipeline. Here the Redis server shares this",
            "machine's two cores with the worker and the load generator.",
        ]
    return lines


def splice(document: str, lines: list[str]) -> str:
    """``document`` with its rate-limit section replaced by ``lines`` (or added before the
    notes)."""
    return splice_section(document, lines)


def main() -> int:
    overhead = run()
    lines = section(overhead)
    print("\n".join(lines))
    OUTPUT.write_text(splice(OUTPUT.read_text(encoding="utf-8"), lines), encoding="utf-8")
    print(f"wrote its section into {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
