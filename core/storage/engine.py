"""The async engine: ``sqlite+aiosqlite`` (embedded default, WAL) or ``postgresql+asyncpg``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SUPPORTED_DRIVERS = frozenset({"sqlite+aiosqlite", "postgresql+asyncpg"})


class UnsupportedDatabase(ValueError):
    """The database URL names a driver idwallet does not run on."""


def database_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise UnsupportedDatabase(
            f"database driver {parsed.drivername!r} is not supported; use one of "
            + ", ".join(sorted(SUPPORTED_DRIVERS))
        )
    return parsed


#: The write-ahead log is cut back to this size after checkpoints, so it does not keep
#: old page images (with whatever they held) at the size of the busiest moment.
WAL_SIZE_LIMIT = 4 * 1024 * 1024


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Deleted rows are overwritten with zeros, not just unlinked: a purged result or an
    # erased account leaves no readable remnant in the database file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    cursor.close()


async def forget_deleted_data(engine: AsyncEngine) -> None:
    """After a purge of personal data: on SQLite, checkpoint the write-ahead log and cut it
    to nothing, so the page images from before the deletion leave the disk (the database
    file itself holds only zeros where the rows were). PostgreSQL reclaims dead rows by
    its own vacuum."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as connection:
        await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def create_engine(url: str, *, pool_size: int = 20, echo: bool = False) -> AsyncEngine:
    """Statement parameters are never rendered into errors or logs (``hide_parameters``):
    they carry citizens' data, code hashes and tokens."""
    parsed = database_url(url)
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            parsed, echo=echo, hide_parameters=True, connect_args={"timeout": 10}
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip on every checkout (a third of a small
    # transaction). A connection broken by a database restart fails its statement once;
    # SQLAlchemy recognises the disconnect and drops the whole pool, so it recovers.
    # No overflow: an overflow connection is opened for one request and closed after it
    # (TLS negotiation, authentication and statement preparation every time), which under
    # load cost a third more CPU per verification than waiting for a pooled one; one
    # worker's requests share one CPU anyway. No request holds two connections at once, so
    # waiting cannot deadlock; a wait beyond pool_timeout answers 503 like an outage.
    return create_async_engine(
        parsed,
        echo=echo,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=10,
        pool_pre_ping=False,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
