"""The PostgreSQL driver's own connection, borrowed from the engine's pool, for the few
statements on a hot path where SQLAlchemy's execution machinery costs about as much as
the database round trip itself.

The connection stays the pool's: it is checked out and returned as usual, and one that
broke under a statement is invalidated with the rest of the pool and reported as
``ConnectionError``, which the application answers with 503 like any other outage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import Column
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util.concurrency import greenlet_spawn

#: Errors after which the connection cannot be trusted again.
_CONNECTION_LOST: tuple[type[BaseException], ...] = (
    asyncpg.InterfaceError,  # includes ConnectionDoesNotExistError
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # terminated by an administrator
    # The connection's protocol state was left mid-operation by an earlier failure (seen
    # when the server shut down under load): nothing more can be sent on it.
    asyncpg.exceptions.InternalClientError,
    OSError,
    asyncio.TimeoutError,
)
#: SQLSTATEs of a database that is away rather than of a statement that is wrong:
#: connection exceptions (class 08), shutdown and start-up (57P01–57P03), too many
#: connections (53300).
_AWAY_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def database_went_away(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it wraps) says the database is unreachable for now,
    as during a restart or failover, and a retry shortly after may well succeed."""
    for error in _chain(exc):
        if isinstance(error, _CONNECTION_LOST):
            return True
        state = getattr(error, "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in _AWAY_STATES):
            return True
    return False


#: Text the database cannot store: a NUL, a character its encoding lacks.
_UNSTORABLE_TEXT_STATES = frozenset({"22021", "22P05"})
#: PostgreSQL's disk_full; SQLite's SQLITE_FULL result code.
_DISK_FULL_STATE = "53100"
_SQLITE_FULL = 13

UNSTORABLE_TEXT = "unstorable_text"
DISK_FULL = "disk_full"


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the errors it wraps (SQLAlchemy's, the adapter's, the driver's)."""
    found: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(found) < 8:
        found.append(seen)
        seen = getattr(seen, "orig", None) or seen.__cause__
    return found


def storage_fault(exc: BaseException) -> str | None:
    """``UNSTORABLE_TEXT`` when a value of the request cannot be stored as text,
    ``DISK_FULL`` when the database has no room left to write; None otherwise."""
    for error in _chain(exc):
        state = getattr(error, "sqlstate", None)
        if state in _UNSTORABLE_TEXT_STATES:
            return UNSTORABLE_TEXT
        if state == _DISK_FULL_STATE or getattr(error, "sqlite_errorcode", None) == _SQLITE_FULL:
            return DISK_FULL
    return None


def changed_rows(status: str) -> int:
    """How many rows an INSERT, UPDATE or DELETE touched, from the command tag the driver
    answers (``INSERT 0 1``, ``UPDATE 3``)."""
    return int(status.rsplit(" ", 1)[-1])


def typed_places(columns: Iterable[Column[Any]], dialect: Dialect, *, first: int = 1) -> str:
    """``$first::type, …`` for ``columns``, each in its column's type as ``dialect`` names
    it: parameters in a ``SELECT`` list (``INSERT … SELECT``) do not take their types from
    the columns they are inserted into."""
    return ", ".join(
        f"${place}::{column.type.compile(dialect=dialect)}"
        for place, column in enumerate(columns, start=first)
    )


def is_postgresql(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg"


async def _checkout(engine: AsyncEngine) -> Any:
    """A connection of the pool; one that cannot be made fails as ``engine.connect()``
    fails, with the driver's error wrapped in SQLAlchemy's (``DBAPIError``, marked
    ``connection_invalidated`` for a disconnect), which the application answers as any
    other database error (503 for a database that is away)."""
    dialect = engine.dialect
    try:
        return await engine.raw_connection()
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(
            None,
            None,
            error,
            dialect.loaded_dbapi.Error,
            hide_parameters=True,
            connection_invalidated=dialect.is_disconnect(error, None, None),
            dialect=dialect,
        ) from error


@asynccontextmanager
async def postgres_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """An ``asyncpg.Connection`` from ``engine``'s pool, outside any transaction.

    Borrowed as the pool's raw connection: no ``AsyncConnection`` (and its ``Connection``,
    proxy and finalizer) is built around a connection that SQLAlchemy never executes on,
    which costs more than the statement itself for the one-statement uses here. It is
    checked in the usual way, reset as the pool resets every connection."""
    fairy = await _checkout(engine)
    try:
        try:
            yield fairy.driver_connection
        except _CONNECTION_LOST as exc:
            # The others in the pool are most likely as dead as this one (a restart,
            # a failover): start the pool afresh, as SQLAlchemy does on a disconnect.
            await greenlet_spawn(fairy.invalidate, exc)
            await engine.dispose()
            raise ConnectionError("the database connection was lost") from exc
    finally:
        await greenlet_spawn(fairy.close)
