"""SQL implementation of the ``AuditTrail`` port: one row per audited action.

An append is one insert in a transaction of its own, with no lock: entries arrive in any
order from any number of workers. The chain (``position``, ``previous_hash``,
``entry_hash``) is made afterwards by a single chainer that takes the unchained entries in
``id`` order, so appending never waits for another worker.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from core.audit.chain import canonical_facts
from core.audit.trail import AuditEntry
from core.storage.base import Base


class AuditEntryRow(Base):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
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


class SqlAuditTrail:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], float]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def append(self, entry: AuditEntry) -> None:
        async with self._sessions.begin() as session:
            session.add(
                AuditEntryRow(
                    at=self._clock(),
                    actor_kind=entry.actor_kind,
                    actor=entry.actor,
                    action=entry.action,
                    outcome=entry.outcome,
                    facts=canonical_facts(entry.facts),
                    subject_key=entry.subject_key,
                )
            )
