"""Oversight figures over a national-scale audit trail: 10,000,000 entries of a year in
PostgreSQL (1,000,000 in SQLite: its load and roll-up grow in proportion, and ten million
through its single writer would take this benchmark many minutes more), loaded with one
``INSERT … SELECT`` over a generated series (no appends one by one), a realistic mix of
the vocabulary (``core.audit.trail``): 60 counters asking for their purposes with their
outcomes, 4 agencies issuing, revoking, suspending and reinstating 3 credential types
each, auditors' reads and device events besides.

Measured: the roll-up of the whole trail (``SqlAuditCounts.roll_up``, the housekeeping
pass, its batches as in production); then the figures of a month and of the year as the
API reads them (rolled-up days plus the entries not rolled up yet, one statement), median
of five, once with everything rolled up and once with a tail of 10,000 entries appended
since the last pass (the pass runs every minute); and, as the reference, the same counts
by one ``GROUP BY`` over the raw entries (what a read would cost without the roll-up).
Each database is the benchmark's own, dropped afterwards.

``python -m bench.oversight_scale`` runs it alone and writes its section into
``docs/benchmarks.md``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.migrate import upgrade
from bench.http_issuance import fresh_postgres_database
from bench.sections import splice_section
from core.storage.engine import create_engine
from oversight.domain import COUNTED_ACTIONS, Period
from oversight.storage.sql import SqlAuditCounts

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
ENTRIES = {"PostgreSQL": 10_000_000, "SQLite": 1_000_000}
#: Entries appended since the last pass: about a minute of a busy hour's appends.
TAIL = 10_000
READS = 5
DATABASE_NAME = "idwallet_oversight_bench"
YEAR = Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
MONTH = Period(dt.date(2026, 6, 1), dt.date(2026, 6, 30))
SECTION = "## Oversight figures over the audit trail"


@dataclass(frozen=True)
class OversightScaleResult:
    database: str
    entries: int
    load_s: float
    roll_up_s: float
    rollup_rows: int
    month_ms: float
    year_ms: float
    month_tail_ms: float
    year_tail_ms: float
    raw_month_ms: float
    raw_year_ms: float


def templates() -> list[tuple[str, str, str, str, str, int]]:
    """(actor kind, actor, action, outcome, facts, weight): the kinds of entries, each as
    often as its weight says."""
    rows: list[tuple[str, str, str, str, str, int]] = []
    purposes = [
        ("age_over_18", ["age_equal_or_over.18"]),
        ("identity", ["birthdate", "family_name", "given_name"]),
        ("residence", ["address.locality", "address.postal_code"]),
    ]
    for c in range(60):
        counter = f"counter-{c:02d}"
        for purpose, claims in purposes[: 1 + c % 3]:
            facts = json.dumps(
                {"claims": claims, "purpose": purpose, "template": purpose}, separators=(",", ":")
            )
            rows += [
                ("counter", counter, "presentation.requested", "ok", facts, 20),
                ("counter", counter, "presentation.answered", "ok", facts, 16),
                ("counter", counter, "presentation.answered", "access_denied", facts, 2),
                ("counter", counter, "presentation.answered", "invalid_presentation", facts, 1),
            ]
        beyond = json.dumps(
            {"claims": ["birthdate", "family_name", "nationalities"], "purpose": "age_over_18"},
            separators=(",", ":"),
        )
        rows.append(("counter", counter, "presentation.refused", "invalid_request", beyond, 1))
    for a in range(4):
        agency = f"agency-{a}"
        for configuration in ("national_id", "residence_permit", "driving_licence"):
            facts = json.dumps({"credential_configuration": configuration}, separators=(",", ":"))
            issued = json.dumps(
                {"credential_configuration": configuration, "format": "dc+sd-jwt"},
                separators=(",", ":"),
            )
            rows += [
                ("agency", agency, "credential.issued", "ok", issued, 30),
                ("operator", agency, "credential.revoked", "ok", facts, 2),
                ("operator", agency, "credential.suspended", "ok", facts, 1),
                ("operator", agency, "credential.reinstated", "ok", facts, 1),
            ]
    rows.append(("citizen", "", "wallet.device_added", "ok", "{}", 10))
    rows.append(
        ("auditor", "dpa", "oversight.viewed", "ok", '{"period":"2026-01-01/2026-01-31"}', 1)
    )
    return rows


_CREATE_TEMPLATES = (
    "CREATE TABLE bench_templates (n INTEGER PRIMARY KEY, actor_kind VARCHAR(32),"
    " actor VARCHAR(200), action VARCHAR(64), outcome VARCHAR(64), facts TEXT)"
)
# Entry g of the series: its kind picked by a multiplicative hash of g over the weighted
# templates; its time spread evenly over 2026 (ids in time order, as appends make them).
_LOAD = (
    "INSERT INTO audit_entries (at, actor_kind, actor, action, outcome, facts, subject_key)"
    " SELECT :start + (g.n - 1) * :spacing, t.actor_kind, t.actor, t.action, t.outcome,"
    " t.facts, NULL FROM {series} JOIN bench_templates t"
    " ON t.n = (g.n * 2654435761) % :templates"
)
_RAW = (
    "SELECT actor_kind, actor, action, outcome, facts, COUNT(*) FROM audit_entries"
    " WHERE at >= :starts_at AND at < :ends_before AND action IN ({actions})"
    " GROUP BY actor_kind, actor, action, outcome, facts"
)


async def _load(engine: AsyncEngine, count: int, first: int, start: float, spacing: float) -> None:
    """``count`` entries with ids from ``first``, stamped ``spacing`` seconds apart from
    ``start``."""
    spaced = [t for t in templates() for _ in range(t[5])]
    async with engine.begin() as connection:
        if first == 1:
            await connection.execute(text(_CREATE_TEMPLATES))
            await connection.execute(
                text(
                    "INSERT INTO bench_templates VALUES"
                    " (:n, :actor_kind, :actor, :action, :outcome, :facts)"
                ),
                [
                    dict(
                        zip(
                            ("actor_kind", "actor", "action", "outcome", "facts"),
                            t[:5],
                            strict=True,
                        )
                    )
                    | {"n": n}
                    for n, t in enumerate(spaced)
                ],
            )
        if engine.dialect.name == "postgresql":
            series = f"generate_series({first}, {first + count - 1}) AS g(n)"
        else:
            series = (
                f"(WITH RECURSIVE s(n) AS (SELECT {first} UNION ALL SELECT n + 1 FROM s"
                f" WHERE n < {first + count - 1}) SELECT n FROM s) AS g"
            )
        await connection.execute(
            text(_LOAD.format(series=series)),
            {"start": start - (first - 1) * spacing, "spacing": spacing, "templates": len(spaced)},
        )
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE audit_entries"))


async def _median_ms(read: object, times: int = READS) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        await read()  # type: ignore[operator]
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent)


async def _raw_ms(engine: AsyncEngine, period: Period) -> float:
    actions = ", ".join(f"'{a}'" for a in COUNTED_ACTIONS)

    async def read() -> None:
        async with engine.connect() as connection:
            await connection.execute(
                text(_RAW.format(actions=actions)),
                {"starts_at": period.starts_at, "ends_before": period.ends_before},
            )

    return await _median_ms(read, 3)


async def _measure(engine: AsyncEngine, database: str) -> OversightScaleResult:
    count = ENTRIES[database]
    started = time.perf_counter()
    await _load(engine, count, 1, YEAR.starts_at, (YEAR.ends_before - YEAR.starts_at) / count)
    load_s = time.perf_counter() - started
    counts = SqlAuditCounts(engine)
    now = YEAR.ends_before
    started = time.perf_counter()
    rolled = 0
    while passed := await counts.roll_up(now):  # passes of at most MAX_BATCHES batches
        rolled += passed
    roll_up_s = time.perf_counter() - started
    assert rolled == count, (rolled, count)
    async with engine.connect() as connection:
        rollup_rows = int(
            (await connection.execute(text("SELECT COUNT(*) FROM oversight_rollup"))).scalar_one()
        )

    def reading(period: Period) -> object:
        async def read() -> None:
            await counts.count(period, COUNTED_ACTIONS)

        return read

    month_ms = await _median_ms(reading(MONTH))
    year_ms = await _median_ms(reading(YEAR))
    # a tail not rolled up yet: entries of mid-June appended since the last pass
    await _load(engine, TAIL, count + 1, MONTH.starts_at + 14 * 86400, 0.001)
    month_tail_ms = await _median_ms(reading(MONTH))
    year_tail_ms = await _median_ms(reading(YEAR))
    return OversightScaleResult(
        database=database,
        entries=count,
        load_s=load_s,
        roll_up_s=roll_up_s,
        rollup_rows=rollup_rows,
        month_ms=month_ms,
        year_ms=year_ms,
        month_tail_ms=month_tail_ms,
        year_tail_ms=year_tail_ms,
        raw_month_ms=await _raw_ms(engine, MONTH),
        raw_year_ms=await _raw_ms(engine, YEAR),
    )


def run(databases: dict[str, str | None]) -> list[OversightScaleResult]:
    results: list[OversightScaleResult] = []
    for database, server_url in databases.items():
        with tempfile.TemporaryDirectory(prefix="idwallet-oversight-") as directory:
            url = (
                fresh_postgres_database(server_url, DATABASE_NAME)
                if server_url
                else f"sqlite+aiosqlite:///{Path(directory) / 'oversight.db'}"
            )
            upgrade(url)

            async def measure(url: str = url, database: str = database) -> OversightScaleResult:
                engine = create_engine(url)
                try:
                    return await _measure(engine, database)
                finally:
                    await engine.dispose()

            try:
                results.append(asyncio.run(measure()))
            finally:
                if server_url:
                    _drop(server_url)
    return results


def _drop(server_url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    async def drop() -> None:
        dsn = (
            make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


def section(results: list[OversightScaleResult]) -> list[str]:
    lines = [
        SECTION,
        "",
        "The figures an auditor reads (`GET /oversight/api/figures`) over a year of audit",
        "trail: 10,000,000 entries in PostgreSQL, 1,000,000 in SQLite (its load and roll-up",
        "grow in proportion, so ten million would take ten times the times below), a mix of the",
        "vocabulary (60 counters, 4 agencies, 3 credential types each). Loaded with one",
        "`INSERT … SELECT` over a generated series; rolled up by the housekeeping's passes",
        "(of 40 batches of 50,000 at most, until caught up: daily counts per actor, action,",
        "outcome and facts); read as the",
        "API reads: the rolled-up days plus the entries not rolled up yet, in one statement",
        f'(median of {READS}). "With a tail": {TAIL:,} entries appended since the last pass',
        "(the pass runs every minute: about a minute of a busy hour's appends).",
        "The reference is one `GROUP BY` over the raw entries of the period (median of 3).",
        "",
        "| database | entries | load s | roll-up s | roll-up rows | month ms | year ms"
        " | month ms, with a tail | year ms, with a tail | raw scan: month ms"
        " | raw scan: year ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.database} | {r.entries:,} | {r.load_s:,.0f} | {r.roll_up_s:,.0f} "
            f"| {r.rollup_rows:,} | **{r.month_ms:,.0f}** | **{r.year_ms:,.0f}** "
            f"| {r.month_tail_ms:,.0f} | {r.year_tail_ms:,.0f} "
            f"| {r.raw_month_ms:,.0f} | {r.raw_year_ms:,.0f} |"
        )
    return lines


def write(results: list[OversightScaleResult]) -> None:
    document = OUTPUT.read_text(encoding="utf-8")
    OUTPUT.write_text(splice_section(document, section(results)), encoding="utf-8")


def main() -> int:
    """This benchmark alone (``python -m bench.oversight_scale``)."""
    from bench.hsm_keys import _databases

    only = os.environ.get("IDWALLET_BENCH_ONLY")  # SQLite or PostgreSQL, for a quick look
    databases = {k: v for k, v in _databases().items() if only in (None, k)}
    results = run(databases)
    print("\n".join(section(results)))
    write(results)
    print(f"wrote its section into {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
