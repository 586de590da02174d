"""What the audit trail costs (``core.audit``): an append per audited action beside a
complete issuance, and how fast the chainer chains and signs, on SQLite and PostgreSQL.

- **Append**: ``SqlAuditTrail.append`` (one insert committed on its own), one after
  another on a freshly migrated database, the median latency and the process CPU per
  append; then appends from 16 concurrent tasks (as a busy worker's requests make them),
  appends per second.
- **Beside an issuance**: complete issuances (token + nonce + credential of the national
  ID, the driver of *Issuance over HTTP*) by one wallet on ``idwallet serve`` with one
  worker, its median latency, and the entries they appended (an issuance appends two:
  ``offer.created`` when the clerk makes the offer, ``credential.issued``).
- **Chaining**: ``SqlAuditChain.seal`` over a backlog of appended entries, with a head
  signed at the end (ES256, software key): entries chained per second; and one head's
  signature alone.

Run by ``make bench``, or alone with ``python -m bench.audit_trail`` (which rewrites its own
section of ``docs/benchmarks.md``)."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from bench.http_issuance import (
    ISSUANCE,
    fresh_postgres_database,
    measure_issuances,
    run_on_fresh_servers,
)
from bench.sections import splice_section
from core.audit.chain import sign_head
from core.audit.store import HeadPolicy
from core.audit.trail import AuditEntry
from core.keys.signer import Signer, SoftwareSigner
from core.storage.audit_chain import SqlAuditChain
from core.storage.audit_trail import SqlAuditTrail
from core.storage.engine import create_engine, session_factory

HEADING = "## Audit trail"
OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
SEQUENTIAL = 1000
CONCURRENT_TASKS = 16
CONCURRENT_EACH = 250
BACKLOG = 20_000
ISSUANCES = 200
ENTRY = AuditEntry(
    "counter",
    "bar-age-check",
    "presentation.answered",
    "ok",
    {"claims": ("age_over_18",), "purpose": "age_over_18", "template": "age_over_18"},
)


@dataclass(frozen=True)
class AuditFigures:
    database: str
    append_p50_us: float
    append_cpu_us: float
    appends_per_second: float
    chained_per_second: float
    head_sign_us: float
    issuance_p50_ms: float | None
    issuance_per_second: float | None


async def _measure_appends(url: str) -> tuple[float, float, float, float]:
    from app.migrate import upgrade

    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        trail = SqlAuditTrail(sessions, time.time)
        for _ in range(50):  # warm the pool and the statement cache
            await trail.append(ENTRY)
        latencies = []
        cpu_before = time.process_time()
        for _ in range(SEQUENTIAL):
            started = time.perf_counter()
            await trail.append(ENTRY)
            latencies.append(time.perf_counter() - started)
        cpu = (time.process_time() - cpu_before) / SEQUENTIAL

        async def task() -> None:
            for _ in range(CONCURRENT_EACH):
                await trail.append(ENTRY)

        started = time.perf_counter()
        await asyncio.gather(*(task() for _ in range(CONCURRENT_TASKS)))
        concurrent = CONCURRENT_TASKS * CONCURRENT_EACH / (time.perf_counter() - started)
        # the backlog the chainer takes on
        appended = 50 + SEQUENTIAL + CONCURRENT_TASKS * CONCURRENT_EACH
        while appended < BACKLOG:
            await asyncio.gather(*(task() for _ in range(CONCURRENT_TASKS)))
            appended += CONCURRENT_TASKS * CONCURRENT_EACH
        signer = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))

        async def get() -> Signer:
            return signer

        chain = SqlAuditChain(sessions, time.time)
        started = time.perf_counter()
        sealed = await chain.seal(HeadPolicy(get, "https://bench.example", 60.0), force=True)
        chained = sealed.chained / (time.perf_counter() - started)
        return statistics.median(latencies) * 1e6, cpu * 1e6, concurrent, chained
    finally:
        await engine.dispose()


def _head_signature_us() -> float:
    signer = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
    rounds = []
    for _ in range(200):
        started = time.perf_counter()
        sign_head(signer, position=1, entry_hash="0" * 64, at=time.time(), issuer="https://x")
        rounds.append(time.perf_counter() - started)
    return statistics.median(rounds) * 1e6


def run(databases: dict[str, str | None]) -> list[AuditFigures]:
    figures = []
    head_us = _head_signature_us()
    for database, server_url in databases.items():
        with tempfile.TemporaryDirectory(prefix="idwallet-bench-audit-") as directory:
            url = (
                fresh_postgres_database(server_url, "idwallet_bench_audit")
                if server_url
                else f"sqlite+aiosqlite:///{Path(directory) / 'audit.db'}"
            )
            append_us, cpu_us, concurrent, chained = asyncio.run(_measure_appends(url))
        issued = [
            r
            for r in run_on_fresh_servers(
                {database: server_url}, measure_issuances, concurrencies=(1,), count=ISSUANCES
            )
            if r.name == ISSUANCE
        ]
        figures.append(
            AuditFigures(
                database,
                append_us,
                cpu_us,
                concurrent,
                chained,
                head_us,
                issued[0].percentile(0.5) if issued else None,
                issued[0].per_second if issued else None,
            )
        )
    return figures


def section(figures: list[AuditFigures]) -> list[str]:
    lines = [
        HEADING,
        "",
        "What an audited action adds: one insert into `audit_entries` committed on its own",
        "(`SqlAuditTrail.append`: on PostgreSQL one statement on a pooled asyncpg connection,",
        f"on SQLite a Core insert), {SEQUENTIAL} one after another (median latency, process",
        f"CPU per append) and {CONCURRENT_TASKS} tasks appending at once (appends per second),",
        "in the benchmark's process on a freshly migrated database; beside it, a complete",
        f"issuance by one wallet on `idwallet serve` ({ISSUANCES} issuances, median), which",
        "appends two entries (`offer.created`, `credential.issued`). Chaining: one",
        f"`SqlAuditChain.seal` over a backlog of {BACKLOG:,} appended entries (batches of",
        "2,000 under the chainer's lock) ending with a signed head.",
        "",
        "| database | append p50 µs | CPU µs per append | appends/s (16 tasks) "
        "| issuance p50 ms | appends' share of an issuance | chained entries/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in figures:
        share = (
            f"{2 * f.append_p50_us / 10 / f.issuance_p50_ms:.1f}%" if f.issuance_p50_ms else "n/a"
        )
        issuance = f"{f.issuance_p50_ms:,.1f}" if f.issuance_p50_ms else "n/a"
        lines.append(
            f"| {f.database} | {f.append_p50_us:,.0f} | {f.append_cpu_us:,.0f} "
            f"| {f.appends_per_second:,.0f} | {issuance} | {share} "
            f"| {f.chained_per_second:,.0f} |"
        )
    if figures:
        lines += [
            "",
            f"A head's ES256 signature in software: {figures[0].head_sign_us:,.0f} µs (one per",
            "`IDWALLET_AUDIT_HEAD_INTERVAL`, 60 s by default, whatever the traffic). The share",
            "column is two appends' latency against one issuance's; the appends run in the",
            "worker's request, each on a connection of the pool. An append's latency beyond its",
            "CPU is the commit's flush to disk (PostgreSQL's write-ahead log, SQLite's",
            "`synchronous=FULL`), as for every commit of an issuance.",
        ]
    return lines


def main() -> int:
    """This benchmark alone; prints its section and writes it into ``docs/benchmarks.md``."""
    from bench.hsm_keys import _databases

    lines = section(run(_databases()))
    print("\n".join(lines))
    document = OUTPUT.read_text(encoding="utf-8")
    OUTPUT.write_text(splice_section(document, lines, before="## Notes"), encoding="utf-8")
    print(f"wrote its section into {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
