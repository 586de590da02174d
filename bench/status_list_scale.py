"""Status lists at national scale: one list of 10,000,000 two-bit indices in the ledger of
a real database (SQLite and PostgreSQL, migrated to head), measured empty and again with
1,000,000 credentials on it of which 100,000 (1% of the indices) are revoked.

- allocation: a credential recorded at a random index through the issuance path's own
  statement (the unique constraint decides), one transaction each;
- revocation: the ledger's status change of one credential (its row and the list's
  version), one transaction each;
- publishing: the publishing service's steps, the ledger's revoked and suspended indices
  read (partial index, aggregated by status), the list built, ZLIB-compressed and signed
  (ES256) as a Status List Token; the median wall time of each step over three runs, the
  token's size, and, in a separate run (tracing slows allocation), the peak of Python
  memory it allocated. The system zlib's level 9 on the same list is the reference for
  the compression.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.migrate import upgrade
from bench.http_issuance import fresh_postgres_database
from core.keys.signer import SoftwareSigner
from core.sealing import Sealer
from core.status_list.bits import StatusList
from core.storage.driver import is_postgresql, postgres_connection
from core.storage.engine import create_engine, session_factory
from issuers.domain import CredentialSelector
from issuers.services.publish_status_list import signed_status_list
from issuers.storage.offer_claims import SealedClaims
from issuers.storage.postgres_issuance import PostgresIssuanceStatements
from issuers.storage.sql import SqlCredentialLedger
from issuers.storage.sqlalchemy_issuance import CoreIssuanceStatements
from tests.support.ledger_rows import credential_row

SIZE = 10_000_000
LOADED = 1_000_000
REVOKED = 100_000
OPERATIONS = 200
PUBLISHES = 3
LIST_ID = "scale-0001"
ISSUER = "scale"


@dataclass(frozen=True)
class Publishing:
    """One publication's wall time in its steps (the median of ``PUBLISHES``), and the
    system zlib's level 9 on the same list as the reference for the compression step."""

    read_ms: float
    build_ms: float
    sign_ms: float
    token_bytes: int
    compressed_bytes: int
    system_zlib_ms: float
    system_zlib_bytes: int

    @property
    def total_ms(self) -> float:
        return self.read_ms + self.build_ms + self.sign_ms


@dataclass(frozen=True)
class ScaleResult:
    database: str
    credentials: int
    allocate_ms: float
    revoke_ms: float
    publish: Publishing
    publish_peak_mib: float


def _credential(index: int, status: int = 0) -> dict[str, Any]:
    return credential_row(ISSUER, LIST_ID, index, status)


@asynccontextmanager
async def _statements(engine: AsyncEngine) -> AsyncIterator[Any]:
    """The issuance path's statements on one open transaction, as a credential request
    uses them on this database."""
    if is_postgresql(engine):
        async with postgres_connection(engine) as connection, connection.transaction():
            yield PostgresIssuanceStatements(connection)
    else:
        async with engine.begin() as connection:
            yield CoreIssuanceStatements(connection)


async def _per_operation_ms(operation: Callable[[int], Awaitable[None]]) -> float:
    started = time.perf_counter()
    for n in range(OPERATIONS):
        await operation(n)
    return (time.perf_counter() - started) / OPERATIONS * 1000


async def _bulk_load(engine: AsyncEngine, url: str, taken: set[int]) -> list[str]:
    """``LOADED`` credentials at distinct random indices, ``REVOKED`` of them revoked;
    returns the ids of some valid ones."""
    free = random.Random(1).sample(range(SIZE), LOADED + len(taken))
    indices = [i for i in free if i not in taken][:LOADED]
    rows = [_credential(index, 1 if n < REVOKED else 0) for n, index in enumerate(indices)]
    columns = list(rows[0])
    if is_postgresql(engine):
        async with postgres_connection(engine) as connection:
            await connection.copy_records_to_table(
                "issuer_credentials",
                records=[tuple(r[c] for c in columns) for r in rows],
                columns=columns,
            )
            await connection.execute("ANALYZE issuer_credentials")
    else:
        path = url.split("///", 1)[1]
        with sqlite3.connect(path) as db:
            db.executemany(
                f"INSERT INTO issuer_credentials ({', '.join(columns)})"
                f" VALUES ({', '.join('?' for _ in columns)})",
                [tuple(r[c] for c in columns) for r in rows],
            )
            db.execute("ANALYZE")
    return [r["credential_id"] for r in rows[REVOKED : REVOKED + OPERATIONS]]


async def _measure(engine: AsyncEngine, url: str, database: str) -> list[ScaleResult]:
    ledger = SqlCredentialLedger(
        session_factory(engine), SealedClaims(Sealer(os.urandom(32))), SIZE
    )
    signer = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
    async with engine.begin() as connection:
        await CoreIssuanceStatements(connection).open_list(
            {"list_id": LIST_ID, "issuer_id": ISSUER, "bits": 2, "size": SIZE, "allocated": 0}
        )
    taken: set[int] = set()
    results: list[ScaleResult] = []

    async def allocate(_: int) -> None:
        while True:
            values = _credential(secrets.randbelow(SIZE))
            async with _statements(engine) as statements:
                if await statements.add_credential(values):
                    taken.add(values["status_index"])
                    return

    for loaded in (False, True):
        valid = await _bulk_load(engine, url, taken) if loaded else []
        allocate_ms = await _per_operation_ms(allocate)
        if not loaded:  # revoke the credentials just allocated
            async with engine.connect() as connection:
                valid = [
                    r[0]
                    for r in await connection.execute(
                        text("SELECT credential_id FROM issuer_credentials")
                    )
                ]

        async def revoke(n: int, ids: list[str] = valid) -> None:
            await ledger.change_status(
                ISSUER,
                CredentialSelector(credential_id=ids[n]),
                applies_to=frozenset({0}),
                new_status=1,
            )

        revoke_ms = await _per_operation_ms(revoke)
        publish = await _publish(ledger, signer)
        tracemalloc.start()
        await _publish(ledger, signer)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        async with engine.connect() as connection:
            count = (
                await connection.execute(text("SELECT count(*) FROM issuer_credentials"))
            ).scalar_one()
        results.append(
            ScaleResult(
                database,
                int(count),
                allocate_ms,
                revoke_ms,
                publish,
                peak / 2**20,
            )
        )
    return results


async def _publish(ledger: SqlCredentialLedger, signer: SoftwareSigner) -> Publishing:
    """The publishing service's own steps: the ledger's flagged indices, the list built
    from them, compressed and signed into the token an agency serves."""
    timings: list[tuple[float, float, float]] = []
    for _ in range(PUBLISHES):
        started = time.perf_counter()
        flagged = await ledger.flagged_indices(LIST_ID)
        read = time.perf_counter()
        status_list = StatusList.from_indices(2, SIZE, flagged)
        built = time.perf_counter()
        token = signed_status_list(
            status_list, signer, uri=f"https://bench.example/{LIST_ID}", now=time.time(), ttl=300
        )
        signed = time.perf_counter()
        timings.append((read - started, built - read, signed - built))
    read_s, build_s, sign_s = (statistics.median(step) for step in zip(*timings, strict=True))
    started = time.perf_counter()
    reference = zlib.compress(bytes(status_list.data), 9)
    system_zlib_s = time.perf_counter() - started
    return Publishing(
        read_s * 1000,
        build_s * 1000,
        sign_s * 1000,
        len(token),
        len(status_list.compress()),
        system_zlib_s * 1000,
        len(reference),
    )


def run(databases: dict[str, str | None]) -> list[ScaleResult]:
    results: list[ScaleResult] = []
    for database, server_url in databases.items():
        with tempfile.TemporaryDirectory(prefix="idwallet-scale-") as directory:
            url = (
                fresh_postgres_database(server_url, "idwallet_scale")
                if server_url
                else f"sqlite+aiosqlite:///{Path(directory) / 'scale.db'}"
            )
            upgrade(url)

            async def measure(url: str = url, database: str = database) -> list[ScaleResult]:
                engine = create_engine(url)
                try:
                    return await _measure(engine, url, database)
                finally:
                    await engine.dispose()

            results.extend(asyncio.run(measure()))
    return results


def table(results: list[ScaleResult]) -> list[str]:
    lines = [
        "| database | credentials on the list | allocate ms | revoke ms | publish ms"
        " (read + build + compress and sign) | token KiB | publish peak MiB"
        " | compressed list KiB | system zlib level 9: ms, KiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        p = r.publish
        lines.append(
            f"| {r.database} | {r.credentials:,} | {r.allocate_ms:.2f} | {r.revoke_ms:.2f} "
            f"| **{p.total_ms:,.0f}** ({p.read_ms:.0f} + {p.build_ms:.0f} + {p.sign_ms:.0f}) "
            f"| {p.token_bytes / 1024:,.0f} | {r.publish_peak_mib:.1f} "
            f"| {p.compressed_bytes / 1024:,.0f} "
            f"| {p.system_zlib_ms:,.0f}, {p.system_zlib_bytes / 1024:,.0f} |"
        )
    return lines
