"""SQL implementation of the ``AuditTrail`` port: one row per audited action.

An append is one insert committed on its own, with no lock: entries arrive in any
order from any number of workers. The chain (``position``, ``previous_hash``,
``entry_hash``) is made afterwards by a single chainer that takes the unchained entries in
``id`` order, so appending never waits for another worker.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Float, Integer, String, Text, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from core.audit.chain import canonical_facts
from core.audit.trail import AuditEntry
from core.storage.base import Base
from core.storage.driver import is_postgresql, postgres_connection


class AuditEntryRow(Base):
    __tablename__ = "audit_entries"
    # SQLite: ids are never reused, even once retention has removed every row (the
    # oversight roll-up's cursor is an id); PostgreSQL's sequence never reuses them anyway.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)
    actor_kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(64))
    #: The entry's facts as canonical JSON (sorted keys, no spaces).
    facts: Mapped[str] = mapped_column(Text)
    subject_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Set by the chainer: the entry's place in the chain and the hashes that link it.
    position: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    previous_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entry_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


#: The append on PostgreSQL, in the driver's terms (prepared once per connection).
PG_APPEND = (
    "INSERT INTO audit_entries (at, actor_kind, actor, action, outcome, facts, subject_key)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
)


def append_values(entry: AuditEntry, at: float) -> tuple[object, ...]:
    """The values of an append of ``entry`` at ``at``, in the order of ``PG_APPEND``."""
    return (
        at,
        entry.actor_kind,
        entry.actor,
        entry.action,
        entry.outcome,
        canonical_facts(entry.facts),
        entry.subject_key,
    )


def pg_append_after(change: str, first: int) -> str:
    """An append whose row goes in only where the statement's common table expression
    ``change`` returned a row (the change it records was made), its values from the
    parameter ``$first`` on: a store writes a change and its trail entry in one statement,
    so that neither is ever without the other."""
    places = ", ".join(f"${place}" for place in range(first, first + len(_COLUMNS)))
    return (
        f"INSERT INTO audit_entries ({', '.join(_COLUMNS)})"  # noqa: S608 - our names
        f" SELECT {places} FROM {change}"
    )


async def append_in(connection: AsyncConnection, entry: AuditEntry, at: float) -> None:
    """The append within the caller's transaction (SQLite, or any SQLAlchemy connection)."""
    await connection.execute(
        insert(AuditEntryRow), dict(zip(_COLUMNS, append_values(entry, at), strict=True))
    )


class SqlAuditTrail:
    """An append is one statement: on PostgreSQL sent on a pooled connection as it is
    (the statement commits by itself), elsewhere a Core insert in a transaction."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], float]
    ) -> None:
        engine = sessions.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise TypeError("the audit trail's sessions must be bound to an engine")
        self._engine = engine
        self._on_postgres = is_postgresql(engine)
        self._clock = clock
        self._insert = insert(AuditEntryRow)

    async def append(self, entry: AuditEntry) -> None:
        values = append_values(entry, self._clock())
        if self._on_postgres:
            async with postgres_connection(self._engine) as connection:
                await connection.execute(PG_APPEND, *values)
            return
        async with self._engine.begin() as connection:
            await connection.execute(self._insert, dict(zip(_COLUMNS, values, strict=True)))


_COLUMNS = ("at", "actor_kind", "actor", "action", "outcome", "facts", "subject_key")
