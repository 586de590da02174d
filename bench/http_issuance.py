"""Issuance over HTTP on loopback: a real ``idwallet serve`` with one worker (pinned to
one CPU), and a bounded load generator on the other CPU driving complete issuances
(token + nonce + credential of the national ID) at 1 and 64 concurrent wallets, beside
``GET /health`` of the same server at the same concurrency. Offers are created before
the clock starts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from bench.cpu_time import CpuUse, current_watch
from bench.http_client import Connection
from bench.national_id import SUBJECT
from core.jose.jws import sign_compact
from core.keys.signer import SoftwareSigner
from tests.support.key_attestations import deployment_provider, seed_wallet_provider
from tests.support.server import (
    ROOT,
    RunningServer,
    idwallet_env,
    running_checkout,
    running_server,
)

GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
ISSUANCE = "complete issuance (token + nonce + credential)"
HEALTH = "GET /health"


@dataclass(frozen=True)
class LoadResult:
    name: str
    database: str
    concurrency: int
    completed: int
    seconds: float
    latencies: list[float]
    cpu: CpuUse | None = None

    @property
    def per_second(self) -> float:
        return self.completed / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


@contextmanager
def server(database_url: str | None, var_dir: Path) -> Iterator[str]:
    """``idwallet serve`` with one worker, pinned to the first CPU where there are two."""
    prefix: list[str] = []
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1:
        prefix = ["taskset", "-c", "0"]
    with running_server(var_dir, command_prefix=prefix, **_database_env(database_url)) as running:
        yield running.base_url


async def _create_offers(
    client: httpx.AsyncClient, key: str, count: int, *, configuration: str = "national_id"
) -> list[str]:
    """``count`` pre-authorized offers of the civil registry's ``configuration`` (the
    national ID, or another format of it such as ``national_id_mdoc``), for ``SUBJECT``."""
    codes: list[str] = []
    for start in range(0, count, 32):
        responses = await asyncio.gather(
            *(
                client.post(
                    "/issuers/civil-registry/offers",
                    json={
                        "subject_id": f"bench-{start + i}",
                        "credential_configuration_id": configuration,
                        "claims": SUBJECT,
                    },
                    headers={"Authorization": f"Bearer {key}"},
                )
                for i in range(min(32, count - start))
            )
        )
        codes.extend(
            r.json()["credential_offer"]["grants"][GRANT]["pre-authorized_code"] for r in responses
        )
    return codes


def _proof(holder: SoftwareSigner, audience: str, nonce: str) -> str:
    """A jwt proof with the key attestation the national ID requires (made by the
    server's own wallet-provider CA, ``seed_wallet_provider``)."""
    payload = {"aud": audience, "iat": int(time.time()), "nonce": nonce}
    attestation = deployment_provider().attest([holder.public_jwk()], nonce=nonce)
    return sign_compact(
        payload,
        holder,
        typ="openid4vci-proof+jwt",
        header={"jwk": holder.public_jwk(), "key_attestation": attestation},
        include_kid=False,
    )


async def _issue(connection: Connection, audience: str, code: str, holder: SoftwareSigner) -> None:
    token = await connection.post_form(
        "/issuers/civil-registry/token", {"grant_type": GRANT, "pre-authorized_code": code}
    )
    access = token.json()["access_token"]
    nonce = (await connection.request("POST", "/issuers/civil-registry/nonce")).json()["c_nonce"]
    response = await connection.post_json(
        "/issuers/civil-registry/credential",
        {
            "credential_configuration_id": "national_id",
            "proofs": {"jwt": [_proof(holder, audience, nonce)]},
        },
        headers={"Authorization": f"Bearer {access}"},
    )
    if response.status != 200:
        raise RuntimeError(f"issuance failed: {response.body[:200]!r}")


@dataclass(frozen=True)
class Driven:
    seconds: float
    latencies: list[float]
    cpu: CpuUse | None


async def _drive(
    count: int, connections: list[Connection], one: Callable[[Connection, int], Awaitable[None]]
) -> Driven:
    """Each virtual wallet takes the next piece of work and runs it on its own connection;
    where a caller watches CPU time, the section's CPU use is measured too."""
    latencies: list[float] = []
    queue = iter(range(count))

    async def wallet(connection: Connection) -> None:
        for index in queue:
            started = time.perf_counter()
            await one(connection, index)
            latencies.append(time.perf_counter() - started)

    watch = current_watch()
    before = watch.snapshot() if watch else None
    started = time.perf_counter()
    await asyncio.gather(*(wallet(c) for c in connections))
    seconds = time.perf_counter() - started
    return Driven(seconds, latencies, watch.since(before) if watch and before else None)


async def measure_issuances(
    base: str, var_dir: Path, database: str, concurrency: int, count: int
) -> list[LoadResult]:
    key = json.loads((var_dir / "operator-keys.json").read_text())["civil-registry"]
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        audience = (
            await client.get("/.well-known/openid-credential-issuer/issuers/civil-registry")
        ).json()["credential_issuer"]
        codes = await _create_offers(client, key, count)
    holders = [SoftwareSigner(ec.generate_private_key(ec.SECP256R1())) for _ in range(concurrency)]
    connections = [Connection(base) for _ in range(concurrency)]

    async def issuance(connection: Connection, index: int) -> None:
        await _issue(connection, audience, codes[index], holders[index % concurrency])

    async def health(connection: Connection, _: int) -> None:
        if (await connection.get("/health")).status != 200:
            raise RuntimeError("health failed")

    try:
        await _drive(concurrency * 2, connections, health)  # open and warm the connections
        measured = await _drive(count, connections, issuance)
        trivial = await _drive(count * 10, connections, health)
    finally:
        for connection in connections:
            await connection.close()
    return [
        LoadResult(
            ISSUANCE,
            database,
            concurrency,
            count,
            measured.seconds,
            measured.latencies,
            cpu=measured.cpu,
        ),
        LoadResult(HEALTH, database, concurrency, count * 10, trivial.seconds, trivial.latencies),
    ]


def _database_env(database_url: str | None) -> dict[str, str]:
    env = {"IDWALLET_LOG_LEVEL": "WARNING"}
    if database_url:
        env["IDWALLET_DATABASE_URL"] = database_url
    return env


def fresh_postgres_database(server_url: str, name: str = "idwallet_bench") -> str:
    """A database of the benchmark's own on the server, emptied."""
    import asyncpg
    from sqlalchemy.engine import make_url

    async def recreate() -> None:
        dsn = (
            make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(recreate())
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


Measure = Callable[[str, Path, str, int, int], Coroutine[Any, Any, list[LoadResult]]]


def run_on_fresh_servers(
    databases: dict[str, str | None],
    measure: Measure,
    *,
    concurrencies: tuple[int, ...],
    count: int,
) -> list[LoadResult]:
    """For each database and concurrency: a freshly migrated database, a server on it,
    and ``measure(base_url, var_dir, database_label, concurrency, count)``.
    ``databases`` maps a label to a PostgreSQL server URL, or None for SQLite."""
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})  # load generator: other CPU
    results: list[LoadResult] = []
    for database, server_url in databases.items():
        for concurrency in concurrencies:
            with tempfile.TemporaryDirectory(prefix="idwallet-bench-") as directory:
                var_dir = Path(directory)
                seed_wallet_provider(var_dir)  # before migrate: it makes the KEK too
                url = fresh_postgres_database(server_url) if server_url else None
                subprocess.run(
                    [sys.executable, "-m", "app.cli", "migrate"],
                    cwd=ROOT,
                    check=True,
                    capture_output=True,
                    env=idwallet_env(var_dir, **_database_env(url)),
                )
                with server(url, var_dir) as base:
                    results.extend(
                        asyncio.run(measure(base, var_dir, database, concurrency, count))
                    )
    return results


@contextmanager
def fresh_server(
    server_url: str | None,
    var_dir: Path,
    *,
    database_name: str = "idwallet_bench",
    env: Mapping[str, str] | None = None,
    root: Path = ROOT,
) -> Iterator[RunningServer]:
    """A freshly migrated database (SQLite in ``var_dir``, or ``database_name`` made afresh
    on the PostgreSQL server ``server_url``) and ``idwallet serve`` on it with one worker,
    pinned to the first CPU where there are two, with ``env`` besides; the code of the
    checkout ``root``."""
    seed_wallet_provider(var_dir)  # before migrate: it makes the KEK too
    url = fresh_postgres_database(server_url, database_name) if server_url else None
    server_env = {**_database_env(url), **(env or {})}
    subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        cwd=root,
        check=True,
        capture_output=True,
        env=idwallet_env(var_dir, **server_env),
    )
    prefix = ["taskset", "-c", "0"] if (os.cpu_count() or 1) > 1 else []
    with running_checkout(root, var_dir, command_prefix=prefix, env=server_env) as running:
        yield running


def run(databases: dict[str, str | None], *, count: int = 300) -> list[LoadResult]:
    return run_on_fresh_servers(databases, measure_issuances, concurrencies=(1, 64), count=count)


def latency_table(results: list[LoadResult]) -> list[str]:
    lines = [
        "| measurement | database | wallets | per second | p50 ms | p99 ms |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.database} | {r.concurrency} | {r.per_second:,.1f} "
            f"| {r.percentile(0.5):,.1f} | {r.percentile(0.99):,.1f} |"
        )
    return lines


def throughput_summary(
    results: list[LoadResult], measured: Mapping[str, str], *, round_trips: int | None
) -> list[str]:
    """One line per database: for each of the ``measured`` rows (its exact name → what the
    line calls its operations), throughput at each number of wallets (1 and 64 in
    ``make bench``) and its cost in trivial round trips of the same server, beside the
    targets. Rows are matched by name, not by a word in it: two rows may share a word."""
    lines: list[str] = []
    for database in dict.fromkeys(r.database for r in results):
        lines.append("")
        parts = []
        for concurrency in sorted({r.concurrency for r in results if r.database == database}):
            rows = {
                r.name: r
                for r in results
                if r.database == database and r.concurrency == concurrency
            }
            trivial = rows.get(HEALTH)
            found = [(rows[name], plural) for name, plural in measured.items() if name in rows]
            if trivial is None or not found:
                continue
            wallets = "1 wallet" if concurrency == 1 else f"{concurrency} wallets"
            parts.append(
                f"{wallets}: "
                + ", ".join(
                    f"{row.per_second:,.1f} {plural} per second, one costing "
                    f"{trivial.per_second / row.per_second:,.1f} trivial round trips"
                    for row, plural in found
                )
            )
        target = "500 per second on PostgreSQL"
        if round_trips is not None:
            target += f", {round_trips} round trips"
        lines.append(f"- {database}: " + "; ".join(parts) + f" (targets: {target}).")
    return lines
