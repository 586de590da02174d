"""What one presentation costs the server, counted rather than timed under load: the
worker's CPU time, and the database's transactions, statements, inserts and updates, on
a PostgreSQL cluster of the benchmark's own (started with ``pg_stat_statements``, so
every statement the worker sends is counted by the database itself).

Two paths, each repeated ``count`` times one after the other:

- **mobile API**: the counter creates an ``age_over_18`` request; the phone, holding a
  session and a credential whose keys the server holds, posts the scanned URI and
  approves (what ``bench/http_wallet.py`` drives under load);
- **phone**: the path a real phone takes, through the ``idwallet wallet`` client: the
  counter creates its request and fetches its QR code; the phone opens a fresh session by
  device proof (challenge, then login), posts the scanned URI, approves, and, its keys
  being device-bound, signs the KB-JWT and completes in a second round trip; the counter
  reads the verified result.

Beside them, **list 50 credentials**: a citizen holding 50 national IDs lists them with
their live status (``GET /wallet/credentials``); a worker's capacity for it is one
second over its CPU time per listing.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app.wallet_cli import WalletClient
from bench.cpu_time import cpu_seconds
from bench.http_issuance import fresh_server
from bench.national_id import SUBJECT
from bench.presentation_profile import profile, table
from tests.support.postgres import start_throwaway
from tests.support.server import ROOT

DATABASE = "idwallet_cost"
_IDLE_FLUSH = 11.0  # seconds
_HOUSEKEEPING_WINDOW = 60.0  # seconds
#: the idle worker's transactions per second, as last measured
HOUSEKEEPING: list[float] = []
# statements that only delimit a transaction: counted as transactions, not as statements
_DELIMITERS = ("BEGIN", "COMMIT", "ROLLBACK", "START TRANSACTION", "SAVEPOINT", "RELEASE")


@dataclass(frozen=True)
class PathCost:
    """Per presentation, the average over ``count``."""

    path: str
    count: int
    requests: float
    worker_cpu_ms: float
    transactions: float
    statements: float
    inserts: float
    updates: float
    deletes: float


@dataclass(frozen=True)
class _Counters:
    cpu_at: float  # monotonic seconds when ``cpu`` was read
    at: float  # monotonic seconds when the database's counts were read
    cpu: float
    transactions: int
    statements: int
    inserts: int
    updates: int
    deletes: int
    by_statement: dict[str, int]

    def minus(self, earlier: _Counters) -> tuple[float, ...]:
        """Seconds, CPU seconds, transactions, statements, inserts, updates, deletes, and
        the seconds between the CPU readings."""
        return (
            self.at - earlier.at,
            self.cpu - earlier.cpu,
            self.transactions - earlier.transactions,
            self.statements - earlier.statements,
            self.inserts - earlier.inserts,
            self.updates - earlier.updates,
            self.deletes - earlier.deletes,
            self.cpu_at - earlier.cpu_at,
        )


async def _database_counters(server_dsn: str) -> tuple[int, int, int, int, int, dict[str, int]]:
    """From the cluster's ``postgres`` database, so that reading them is not counted."""
    connection = await asyncpg.connect(server_dsn)
    try:
        row = await connection.fetchrow(
            "SELECT xact_commit + xact_rollback AS transactions, tup_inserted, tup_updated,"
            " tup_deleted FROM pg_stat_database WHERE datname = $1",
            DATABASE,
        )
        rows = await connection.fetch(
            "SELECT s.query, s.calls FROM pg_stat_statements s"
            " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 AND s.toplevel",
            DATABASE,
        )
    finally:
        await connection.close()
    assert row is not None
    by_statement = {str(r["query"]): int(r["calls"]) for r in rows}
    statements = sum(
        calls
        for query, calls in by_statement.items()
        if not query.lstrip().upper().startswith(_DELIMITERS)
    )
    return (
        int(row["transactions"]),
        statements,
        int(row["tup_inserted"]),
        int(row["tup_updated"]),
        int(row["tup_deleted"]),
        by_statement,
    )


def _counters(server_dsn: str | None, pid: int) -> _Counters:
    """The worker's CPU at once (so that the housekeeping subtracted from it is that of
    the presentations' own time), and the database's counts on PostgreSQL (none on
    SQLite)."""
    cpu, at = cpu_seconds(pid), time.monotonic()
    if server_dsn is None:
        return _Counters(at, at, cpu, 0, 0, 0, 0, 0, {})
    # A backend publishes its counts at the latest ten seconds after it went idle
    # (PostgreSQL's idle flush): read once that has passed.
    time.sleep(_IDLE_FLUSH)
    transactions, statements, inserts, updates, deletes, by_statement = asyncio.run(
        _database_counters(server_dsn)
    )
    return _Counters(
        at,
        time.monotonic(),
        cpu,
        transactions,
        statements,
        inserts,
        updates,
        deletes,
        by_statement,
    )


@dataclass(frozen=True)
class _Housekeeping:
    """What the worker does with nobody using it (chaining the audit trail every few
    seconds, purging what expired every minute, the status watch), per second: subtracted
    from a path's counts over the same time, so that they are the presentations' own."""

    #: CPU seconds, transactions, statements, inserts, updates, deletes
    per_second: tuple[float, ...]
    by_statement: dict[str, float]

    @classmethod
    def measure(cls, server_dsn: str | None, pid: int, seconds: float) -> _Housekeeping:
        start = _counters(server_dsn, pid)
        time.sleep(seconds)
        end = _counters(server_dsn, pid)
        delta = end.minus(start)
        cpu_rate = delta[1] / delta[7]
        return cls(
            (cpu_rate, *(value / delta[0] for value in delta[2:7])),
            {
                query: (calls - start.by_statement.get(query, 0)) / delta[0]
                for query, calls in end.by_statement.items()
                if calls > start.by_statement.get(query, 0)
            },
        )


class _Counted(httpx.Client):
    """An HTTP client that counts its requests."""

    requests = 0

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        _Counted.requests += 1
        return super().send(request, **kwargs)


#: per path, the statements of its presentations with their calls per presentation
BREAKDOWN: dict[str, dict[str, float]] = {}


def _measure(
    path: str,
    count: int,
    server_dsn: str | None,
    pid: int,
    housekeeping: _Housekeeping,
    once: Callable[[], None],
) -> PathCost:
    once()  # the first of its kind warms what every counter and phone share
    _Counted.requests = 0
    before = _counters(server_dsn, pid)
    for _ in range(count):
        once()
    requests = _Counted.requests
    after = _counters(server_dsn, pid)
    delta = after.minus(before)
    seconds = delta[0]
    # the CPU over the presentations' own time, the database's counts over the time
    # between their readings (each past the idle flush)
    windows = (delta[7], seconds, seconds, seconds, seconds, seconds)
    own = [
        max(0.0, value - rate * window) / count
        for value, rate, window in zip(delta[1:7], housekeeping.per_second, windows, strict=True)
    ]
    if server_dsn is None:  # SQLite: no statements counted
        return PathCost(path, count, requests / count, own[0] * 1000, *own[1:])
    BREAKDOWN[path] = {
        query: per_presentation
        for query, calls in after.by_statement.items()
        if (
            per_presentation := (
                calls
                - before.by_statement.get(query, 0)
                - housekeeping.by_statement.get(query, 0.0) * seconds
            )
            / count
        )
        >= 0.05
    }
    return PathCost(path, count, requests / count, own[0] * 1000, *own[1:])


def _offer(http: httpx.Client, operator_key: str) -> str:
    offer = http.post(
        "/issuers/civil-registry/offers",
        json={
            "subject_id": "bench-citizen",
            "credential_configuration_id": "national_id",
            "claims": SUBJECT,
        },
        headers={"Authorization": f"Bearer {operator_key}"},
    )
    offer.raise_for_status()
    return str(offer.json()["offer_uri"])


def _counter_request(http: httpx.Client, counter_key: str, *, with_qr: bool) -> tuple[str, str]:
    headers = {"Authorization": f"Bearer {counter_key}"}
    created = http.post(
        "/verifiers/bar-age-check/presentations", json={"template": "age_over_18"}, headers=headers
    )
    created.raise_for_status()
    transaction_id = str(created.json()["transaction_id"])
    if with_qr:
        qr = http.get(
            f"/verifiers/bar-age-check/presentations/{transaction_id}/qr.svg", headers=headers
        )
        qr.raise_for_status()
    return transaction_id, str(created.json()["uri"])


def _mobile_api_path(http: httpx.Client, keys: dict[str, str]) -> Callable[[], None]:
    from bench.http_wallet import _proof  # the same phone the load benchmark drives

    async def register() -> str:
        from cryptography.hazmat.primitives.asymmetric import ec

        from core.keys.signer import SoftwareSigner

        async with httpx.AsyncClient(base_url=str(http.base_url)) as client:
            device = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
            proof = await _proof(client, device, {"jwk": device.public_jwk()})  # type: ignore[dict-item]
            session = await client.post("/wallet/accounts", json={"device_proof": proof})
            return str(session.json()["access_token"])

    token = asyncio.run(register())
    headers = {"Authorization": f"Bearer {token}"}
    scanned = http.post(
        "/wallet/scans", json={"uri": _offer(http, keys["civil-registry"])}, headers=headers
    )
    offer_id = scanned.json()["offer"]["offer_id"]
    accepted = http.post(
        f"/wallet/offers/{offer_id}/accept", json={"custody": "server"}, headers=headers
    )
    accepted.raise_for_status()

    def once() -> None:
        _, uri = _counter_request(http, keys["bar-age-check"], with_qr=False)
        scanned = http.post("/wallet/scans", json={"uri": uri}, headers=headers)
        scanned.raise_for_status()
        presentation_id = scanned.json()["presentation"]["presentation_id"]
        approved = http.post(
            f"/wallet/presentations/{presentation_id}/approve", json={}, headers=headers
        )
        if approved.status_code != 200 or approved.json()["outcome"] != "accepted":
            raise RuntimeError(f"presentation failed: {approved.text[:300]}")

    return once


def _phone_path(
    http: httpx.Client, base: str, keys: dict[str, str], wallet_file: Path
) -> Callable[[], None]:
    phone = WalletClient(base, wallet_file)
    phone.http = _Counted(base_url=base, timeout=60)
    phone.register("bench phone")
    phone.receive(_offer(http, keys["civil-registry"]), None)
    counter_key = keys["bar-age-check"]

    def once() -> None:
        transaction_id, uri = _counter_request(http, counter_key, with_qr=True)
        outcome = phone.present(uri, approve=True, decline=False, omit=[])
        if outcome.get("outcome") != "accepted":
            raise RuntimeError(f"presentation failed: {json.dumps(outcome)[:300]}")
        result = http.get(
            f"/verifiers/bar-age-check/presentations/{transaction_id}",
            headers={"Authorization": f"Bearer {counter_key}"},
        )
        if result.status_code != 200 or result.json().get("status") != "verified":
            raise RuntimeError(f"the counter saw no result: {result.text[:300]}")

    return once


#: How many credentials the listing's citizen holds.
LISTED = 50
LISTING = f"list {LISTED} credentials"


def _listing_path(http: httpx.Client, keys: dict[str, str]) -> Callable[[], None]:
    from bench.http_wallet import _citizen  # the citizen the load benchmark lists for

    async def holder() -> str:
        async with httpx.AsyncClient(base_url=str(http.base_url), timeout=60) as client:
            return await _citizen(client, keys["civil-registry"], LISTED)

    headers = {"Authorization": f"Bearer {asyncio.run(holder())}"}

    def once() -> None:
        listed = http.get("/wallet/credentials", headers=headers)
        if listed.status_code != 200 or len(listed.json()["credentials"]) != LISTED:
            raise RuntimeError(f"listing failed: {listed.text[:300]}")

    return once


def _trivial(
    http: httpx.Client, server_dsn: str | None, pid: int, housekeeping: _Housekeeping, count: int
) -> PathCost:
    def once() -> None:
        http.get("/health").raise_for_status()

    return _measure("GET /health", count, server_dsn, pid, housekeeping, once)


@dataclass(frozen=True)
class Costs:
    """This checkout's costs, and those of ``BEFORE_REVISION`` measured in the same run
    (None where its code could not be checked out)."""

    now: list[PathCost]
    before: list[PathCost] | None
    #: per path, each part's share of the worker's CPU (``bench.presentation_profile``),
    #: where py-spy could sample the worker
    profiles_now: dict[str, dict[str, float]]
    profiles_before: dict[str, dict[str, float]] | None
    #: the same paths on SQLite (worker CPU only: the embedded database has no counters)
    sqlite_now: list[PathCost]
    sqlite_before: list[PathCost] | None


def run(*, count: int = 100) -> Costs:
    cluster = start_throwaway(
        ("shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all")
    )
    if cluster.url is None:
        raise RuntimeError(f"no PostgreSQL cluster for the cost count: {cluster.origin}")
    try:
        with tempfile.TemporaryDirectory(prefix="idwallet-cost-") as directory:
            before, profiles_before, sqlite_before = None, None, None
            checkout = _checkout(BEFORE_REVISION, Path(directory) / "before")
            if checkout is not None:
                try:
                    before, profiles_before = _measure_revision(cluster.url, checkout, count)
                    sqlite_before, _ = _measure_revision(None, checkout, count)
                finally:
                    _remove_checkout(checkout)
            now, profiles_now = _measure_revision(cluster.url, ROOT, count)
            sqlite_now, _ = _measure_revision(None, ROOT, count)
            return Costs(now, before, profiles_now, profiles_before, sqlite_now, sqlite_before)
    finally:
        cluster.stop()


def _measure_revision(
    cluster_url: str | None, root: Path, count: int
) -> tuple[list[PathCost], dict[str, dict[str, float]]]:
    """The three paths against a fresh database (SQLite where ``cluster_url`` is None)
    and a server running ``root``'s code, and on PostgreSQL where the worker's CPU goes
    on the two presentation paths."""
    server_dsn = (
        None
        if cluster_url is None
        else make_url(cluster_url).set(drivername="postgresql").render_as_string(False)
    )
    with tempfile.TemporaryDirectory(prefix="idwallet-cost-var-") as directory:
        var_dir = Path(directory)
        with fresh_server(cluster_url, var_dir, database_name=DATABASE, root=root) as running:
            if server_dsn is not None:
                asyncio.run(_create_extension(server_dsn))
            keys = json.loads((var_dir / "operator-keys.json").read_text())
            pid = running.process.pid
            with _Counted(base_url=running.base_url, timeout=60) as http:
                mobile = _mobile_api_path(http, keys)
                phone = _phone_path(http, running.base_url, keys, var_dir / "phone.json")
                listing = _listing_path(http, keys)
                # a whole minute, so that the minute's purge is in the rate
                housekeeping = _Housekeeping.measure(server_dsn, pid, _HOUSEKEEPING_WINDOW)
                if server_dsn is not None:
                    HOUSEKEEPING.append(housekeeping.per_second[1])
                costs = [
                    _measure("mobile API", count, server_dsn, pid, housekeeping, mobile),
                    _measure("phone", count, server_dsn, pid, housekeeping, phone),
                    _measure(LISTING, count, server_dsn, pid, housekeeping, listing),
                    _trivial(http, server_dsn, pid, housekeeping, count * 10),
                ]
                profiles: dict[str, dict[str, float]] = {}
                for path, once in (("mobile API", mobile), ("phone", phone)):
                    if server_dsn is None:
                        break
                    shares = profile(pid, once, count * 2)
                    if shares is not None:
                        profiles[path] = shares
                return costs, profiles


def _checkout(revision: str, where: Path) -> Path | None:
    """``revision`` checked out at ``where`` (a git worktree of this repository), or None
    when this is no git checkout or the revision is not in its history."""
    made = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), revision],
        capture_output=True,
        text=True,
        check=False,
    )
    return where if made.returncode == 0 else None


def _remove_checkout(where: Path) -> None:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)],
        capture_output=True,
        check=False,
    )


async def _create_extension(server_dsn: str) -> None:
    connection = await asyncpg.connect(server_dsn)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    finally:
        await connection.close()


#: The last revision before the wallet's and the verifier's hot paths were rewritten: its
#: code is checked out and measured in the same run, on the same machine.
BEFORE_REVISION = "2ab4b3d"
#: What is required, per presentation: at most this worker CPU (ms, on the machine where
#: the work started, which measured ``STARTED_AT``) and these transactions.
TARGETS = {"mobile API": (6.0, 8), "phone": (12.0, 12)}
#: Worker CPU ms per presentation where the work started, on that machine: a required
#: CPU time is that share of the "before" measured in the same run.
STARTED_AT = {"mobile API": 12.5, "phone": 40.0}
#: Listings per second per worker required, and measured where the work started: the
#: required capacity is that multiple of the "before" measured in the same run.
LISTING_TARGET, LISTING_STARTED_AT = 300.0, 108.0


def section(costs: Costs) -> list[str]:
    now = costs.now
    trivial = next(c for c in now if c.path == "GET /health")
    lines = [
        "## What one presentation costs the server",
        "",
        "Counted rather than timed under load (`bench/presentation_cost.py`): presentations",
        "one after the other against one worker on PostgreSQL, the database's own counters",
        "(`pg_stat_database`, and `pg_stat_statements` for the statements the worker sends;",
        "BEGIN, COMMIT and ROLLBACK count as transactions, not statements) and the worker's",
        "CPU time from `/proc`. What the worker does with nobody using it (chaining the",
        "audit trail, purging, the status watch: measured over a minute beforehand,"
        f" {HOUSEKEEPING[-1] if HOUSEKEEPING else 0:.2f}",
        "transactions per second) is subtracted at its rate. *mobile API*: the counter's",
        "request, the phone's scan and approval with keys the server holds. *phone*: the",
        "path of a real phone through the",
        "`idwallet wallet` client: the counter's request and its QR code, a fresh session by",
        "device proof (challenge, login), scan, approval, the KB-JWT signed on the phone and",
        "sent in a second round trip, and the counter reading its verified result.",
        f"*Before* is revision `{BEFORE_REVISION}` (before the wallet's and the verifier's hot",
        "paths were rewritten), checked out and measured in the same run.",
        "",
        "| path | HTTP requests | worker CPU ms | trivial round trips | transactions |"
        " statements | inserts | updates | deletes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [("now", c) for c in now]
    if costs.before is not None:
        earlier = [("before", c) for c in costs.before]
        rows = [row for pair in zip(rows, earlier, strict=True) for row in pair]
    for label, c in rows:
        lines.append(
            f"| {c.path} ({label}) | {c.requests:.1f} | {c.worker_cpu_ms:.2f} |"
            f" {c.worker_cpu_ms / trivial.worker_cpu_ms if trivial.worker_cpu_ms else 0:.1f} |"
            f" {c.transactions:.1f} | {c.statements:.1f} | {c.inserts:.1f} | {c.updates:.1f} |"
            f" {c.deletes:.1f} |"
        )
    if costs.before is None:
        return [*lines, "", f"(Revision `{BEFORE_REVISION}` could not be checked out.)", ""]
    before = {c.path: c for c in costs.before}
    lines += [
        "",
        'The worker CPU required is the share of the "before" that the targets name where',
        "the work started (6 of 12.5 ms through the mobile API, 12 of 40 ms for the phone).",
        "",
        "| path | worker CPU ms: before / now / required | transactions: before / now /"
        " required | met |",
        "| --- | ---: | ---: | --- |",
    ]
    for c in now:
        if c.path not in TARGETS:
            continue
        cpu_required, transactions_required = TARGETS[c.path]
        was = before[c.path]
        cpu_allowed = was.worker_cpu_ms * cpu_required / STARTED_AT[c.path]
        # judged on the figures as shown: the housekeeping subtracted leaves a few
        # hundredths of noise either way
        met = (
            round(c.worker_cpu_ms, 1) <= round(cpu_allowed, 1)
            and round(c.transactions, 1) <= transactions_required
        )
        lines.append(
            f"| {c.path} | {was.worker_cpu_ms:.1f} / {c.worker_cpu_ms:.1f} / {cpu_allowed:.1f} |"
            f" {was.transactions:.1f} / {c.transactions:.1f} / {transactions_required} |"
            f" {'yes' if met else 'no'} |"
        )
    listed, listed_before = _cost(now, LISTING), before[LISTING].worker_cpu_ms
    capacity, capacity_before = 1000 / listed, 1000 / listed_before
    required = capacity_before * LISTING_TARGET / LISTING_STARTED_AT
    lines += [
        "",
        f"A worker's capacity to {LISTING} (one second over the CPU time of one listing);"
        f" required: {LISTING_TARGET:.0f} where {LISTING_STARTED_AT:.0f} were measured when",
        "the work started, so that multiple of the same run's *before*:",
        "",
        "| path | listings per second per worker: before / now / required | met |",
        "| --- | ---: | --- |",
        f"| {LISTING} | {capacity_before:.0f} / {capacity:.0f} / {required:.0f} |"
        f" {'yes' if round(capacity) >= round(required) else 'no'} |",
    ]
    lines += [
        "",
        "On SQLite, the embedded default (worker CPU only: it keeps no counters):",
        "",
        "| path | worker CPU ms: before / now | now ÷ before |",
        "| --- | ---: | ---: |",
    ]
    sqlite_before = {c.path: c for c in costs.sqlite_before or []}
    for c in costs.sqlite_now:
        measured_before = sqlite_before.get(c.path)
        if measured_before is None:
            continue
        cpu_before = measured_before.worker_cpu_ms
        lines.append(
            f"| {c.path} | {cpu_before:.2f} / {c.worker_cpu_ms:.2f} |"
            f" {c.worker_cpu_ms / cpu_before if cpu_before else 0:.2f} |"
        )
    for path, shares in costs.profiles_now.items():
        earlier_shares = (costs.profiles_before or {}).get(path)
        lines += [
            "",
            f"Where the worker's CPU goes, *{path}* (py-spy sampling the worker over"
            f" {2 * before[path].count} presentations; C code counted with the Python code"
            " that called it):",
            "",
            *table(shares, earlier_shares, (before[path].worker_cpu_ms, _cost(now, path))),
        ]
    return lines


def _cost(costs: list[PathCost], path: str) -> float:
    return next(c.worker_cpu_ms for c in costs if c.path == path)


def write(costs: Costs) -> None:
    from bench.__main__ import OUTPUT
    from bench.sections import splice_section

    OUTPUT.write_text(
        splice_section(OUTPUT.read_text(encoding="utf-8"), section(costs)), encoding="utf-8"
    )


if __name__ == "__main__":
    # alone: the section written into docs/benchmarks.md, and where the statements go
    costs = run()
    write(costs)
    for cost in costs.now:
        print(cost)
        for query, calls in sorted(BREAKDOWN[cost.path].items(), key=lambda item: -item[1]):
            print(f"  {calls:5.2f}  {' '.join(query.split())[:160]}")
