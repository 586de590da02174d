"""Status lists at national scale: one list of 10,000,000 two-bit indices in the ledger of
a real database (SQLite and PostgreSQL, migrated to head), measured empty and again with
1,000,000 credentials on it of which 100,000 (1% of the indices) are revoked.

- allocation: a credential recorded at a random index through the issuance path's own
  statement (the unique constraint decides), one transaction each;
- revocation: the ledger's status change of one credential (its row and the list's
  version), one transaction each;
- publishing: the ledger's revoked and suspended entries read (partial index), the list
  built, ZLIB-compressed and signed (ES256) as a Status List Token; its wall time, its
  size, and the peak of Python memory it allocated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import secrets
import sqlite3
import tempfile
import time
import tracemalloc
import uuid
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
from core.status_list.bits import StatusList
from core.status_list.token import build_status_list_token
from core.storage.driver import is_postgresql, postgres_connection
from core.storage.engine import create_engine, session_factory
from issuers.domain import CredentialSelector, IssuedCredential
from issuers.storage.postgres_issuance import PostgresIssuanceStatements
from issuers.storage.sql import SqlCredentialLedger
from issuers.storage.sqlalchemy_issuance import CoreIssuanceStatements

SIZE = 10_000_000
LOADED = 1_000_000
REVOKED = 100_000
OPERATIONS = 200
LIST_ID = "scale-0001"
ISSUER = "scale"


@dataclass(frozen=True)
class ScaleResult:
    database: str
    credentials: int
    allocate_ms: float
    revoke_ms: float
    publish_ms: float
    token_bytes: int
    publish_peak_mib: float


def _credential(index: int, status: int = 0) -> dict[str, Any]:
    row = IssuedCredential(
        credential_id=uuid.uuid4().hex,
        issuer_id=ISSUER,
        offer_id="bench",
        subject_id="bench",
        configuration_id="national_id",
        status_list_id=LIST_ID,
        status_index=index,
        status=status,
        issued_at=0.0,
        expires_at=0.0,
        notification_id="bench",
    )
    return {**dataclasses.asdict(row), "notification_event": None}


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
    ledger = SqlCredentialLedger(session_factory(engine), SIZE)
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
        tracemalloc.start()
        started = time.perf_counter()
        status_list = StatusList.empty(2, SIZE)
        for index, status in (await ledger.statuses(LIST_ID)).items():
            status_list.set(index, status)
        token = build_status_list_token(
            status_list,
            signer,
            uri="https://bench.example/status-lists/scale-0001",
            issued_at=int(time.time()),
            ttl=300,
        )
        publish_ms = (time.perf_counter() - started) * 1000
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
                publish_ms,
                len(token),
                peak / 2**20,
            )
        )
    return results


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
        " | token KiB | publish peak MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.database} | {r.credentials:,} | {r.allocate_ms:.2f} | {r.revoke_ms:.2f} "
            f"| {r.publish_ms:,.0f} | {r.token_bytes / 1024:,.0f} | {r.publish_peak_mib:.1f} |"
        )
    return lines
