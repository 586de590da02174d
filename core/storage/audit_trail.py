"""SQL implementation of the ``AuditTrail`` port: one row per audited action.

An append is one insert committed on its own, with no lock: entries arrive in any
order from any number of workers. The chain (``position``, ``previous_hash``,
``entry_hash``) is made afterwards by a single chainer that takes the unchained entries in
``id`` order, so appending never waits for another worker.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Float, Integer, String, Text, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
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
        values = (
            self._clock(),
            entry.actor_kind,
            entry.actor,
            entry.action,
            entry.outcome,
            canonical_facts(entry.facts),
            entry.subject_key,
        )
        if self._on_postgres:
            async with postgres_connection(self._engine) as connection:
                await connection.execute(PG_APPEND, *values)
            return
        async with self._engine.begin() as connection:
            await connection.execute(self._insert, dict(zip(_COLUMNS, values, strict=True)))


_COLUMNS = ("at", "actor_kind", "actor", "action", "outcome", "facts", "subject_key")
