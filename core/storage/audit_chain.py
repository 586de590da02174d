"""SQL implementation of ``ChainedTrail``: the chainer, the signed heads (``audit_heads``)
and retention, for the entries ``SqlAuditTrail`` appends.

One chainer at a time, whatever the number of workers and processes: on PostgreSQL a
transaction-level advisory lock (``pg_try_advisory_xact_lock``; a chainer that does not get
it leaves the work to the one that has it), on SQLite the database's write lock, taken by
the transaction's first statement (an update that changes nothing). Under it, the chainer
reads the tail of the chain, takes unchained entries in ``id`` order and gives each its
``position``, ``previous_hash`` and ``entry_hash`` (``core.audit.chain``), and signs a head
where one is due. An entry that commits after later ids were chained is chained in the next
pass, after them: the chain's order is the order of chaining, which is what it attests.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import Float, Index, Integer, String, Text, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from core.audit.chain import GENESIS, ChainedEntry, SignedHead, UnchainedEntry, link, sign_head
from core.audit.store import ChainSnapshot, HeadPolicy, Sealed
from core.keys.signer import Signer
from core.storage.audit_trail import AuditEntryRow
from core.storage.base import Base

#: The advisory lock the PostgreSQL chainers share (any constant; "idwAUDIT" as a number).
CHAINER_LOCK = 0x6964774155444954
#: Entries chained per transaction (the lock is held for one batch at a time).
CHAIN_BATCH = 2000
#: About how many entries retention removes per transaction.
PRUNE_BATCH = 5000


class AuditHeadRow(Base):
    __tablename__ = "audit_heads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The last position the head covers, and that entry's hash.
    position: Mapped[int] = mapped_column(Integer, unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)
    #: The compact JWS (``core.audit.chain.sign_head``).
    jws: Mapped[str] = mapped_column(Text)


# The chainer's search for what is left to chain reads only unchained rows.
Index(
    "ix_audit_entries_unchained",
    AuditEntryRow.id,
    postgresql_where=AuditEntryRow.position.is_(None),
    sqlite_where=AuditEntryRow.position.is_(None),
)


def _chained(row: AuditEntryRow) -> ChainedEntry:
    assert row.position is not None and row.previous_hash is not None
    assert row.entry_hash is not None
    return ChainedEntry(
        position=row.position,
        previous_hash=row.previous_hash,
        at=row.at,
        actor_kind=row.actor_kind,
        actor=row.actor,
        action=row.action,
        outcome=row.outcome,
        facts=row.facts,
        subject_key=row.subject_key,
        entry_hash=row.entry_hash,
    )


def _head(row: AuditHeadRow) -> SignedHead:
    return SignedHead(position=row.position, entry_hash=row.entry_hash, at=row.at, jws=row.jws)


class SqlAuditChain:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], float],
        *,
        batch: int = CHAIN_BATCH,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._batch = batch

    async def _lock(self, session: AsyncSession) -> bool:
        """The chainer's lock for this transaction; False where another chainer has it."""
        if session.get_bind().dialect.name == "postgresql":
            got = await session.scalar(select(func.pg_try_advisory_xact_lock(CHAINER_LOCK)))
            return bool(got)
        # SQLite: a write takes the database's write lock (waiting up to busy_timeout)
        await session.execute(text("UPDATE audit_heads SET id = id WHERE 0 = 1"))
        return True

    async def _tail(self, session: AsyncSession) -> tuple[int, str]:
        last = (
            await session.execute(
                select(AuditEntryRow.position, AuditEntryRow.entry_hash)
                .where(AuditEntryRow.position.is_not(None))
                .order_by(AuditEntryRow.position.desc())
                .limit(1)
            )
        ).first()
        if last is not None and last[0] is not None and last[1] is not None:
            return int(last[0]), str(last[1])
        head = await self._last_head(session)
        return (head.position, head.entry_hash) if head is not None else (0, GENESIS)

    @staticmethod
    async def _last_head(session: AsyncSession) -> AuditHeadRow | None:
        return await session.scalar(
            select(AuditHeadRow).order_by(AuditHeadRow.position.desc()).limit(1)
        )

    @staticmethod
    async def _link(session: AsyncSession, changes: list[dict[str, Any]]) -> None:
        """The batch's positions and hashes written: on PostgreSQL in one statement over
        arrays, elsewhere one update per entry."""
        if session.get_bind().dialect.name != "postgresql":
            await session.execute(update(AuditEntryRow), changes)
            return
        await session.execute(
            text(
                "UPDATE audit_entries AS e SET position = v.position,"
                " previous_hash = v.previous_hash, entry_hash = v.entry_hash"
                " FROM unnest(CAST(:ids AS INTEGER[]), CAST(:positions AS INTEGER[]),"
                " CAST(:previous AS VARCHAR[]), CAST(:hashes AS VARCHAR[]))"
                " AS v(id, position, previous_hash, entry_hash) WHERE e.id = v.id"
            ),
            {
                "ids": [c["id"] for c in changes],
                "positions": [c["position"] for c in changes],
                "previous": [c["previous_hash"] for c in changes],
                "hashes": [c["entry_hash"] for c in changes],
            },
        )

    async def seal(self, heads: HeadPolicy | None = None, *, force: bool = False) -> Sealed:
        # The signer is fetched before the chainer's lock is taken: fetching it may write
        # (the key's first creation, its certificate), which on SQLite would wait on us.
        signer = None
        if heads is not None:
            async with self._sessions() as session:
                last = await self._last_head(session)
            if force or last is None or self._clock() - last.at >= heads.interval:
                signer = await heads.signer()
        chained = 0
        while True:
            async with self._sessions.begin() as session:
                if not await self._lock(session):
                    return Sealed(chained, None, ran=False)
                position, previous = await self._tail(session)
                rows = (
                    await session.scalars(
                        select(AuditEntryRow)
                        .where(AuditEntryRow.position.is_(None))
                        .order_by(AuditEntryRow.id)
                        .limit(self._batch)
                    )
                ).all()
                changes = []
                for row in rows:
                    position += 1
                    linked = link(_unchained(row), position, previous)
                    previous = linked.entry_hash
                    changes.append(
                        {
                            "id": row.id,
                            "position": position,
                            "previous_hash": linked.previous_hash,
                            "entry_hash": linked.entry_hash,
                        }
                    )
                session.expunge_all()
                if changes:
                    await self._link(session, changes)
                chained += len(changes)
                if len(rows) == self._batch:
                    continue  # more to chain: the next batch in its own transaction
                head = None
                if heads is not None and signer is not None:
                    head = await self._sign_if_due(
                        session,
                        signer=signer,
                        heads=heads,
                        position=position,
                        entry_hash=previous,
                        force=force,
                    )
                return Sealed(chained, head)

    async def _sign_if_due(
        self,
        session: AsyncSession,
        *,
        signer: Signer,
        heads: HeadPolicy,
        position: int,
        entry_hash: str,
        force: bool,
    ) -> SignedHead | None:
        last = await self._last_head(session)
        if position == 0 or (last is not None and last.position >= position):
            return None
        now = self._clock()
        if last is not None and not force and now - last.at < heads.interval:
            return None
        head = sign_head(
            signer, position=position, entry_hash=entry_hash, at=now, issuer=heads.issuer
        )
        session.add(
            AuditHeadRow(
                position=head.position, entry_hash=head.entry_hash, at=head.at, jws=head.jws
            )
        )
        return head

    async def read_entries(self, after: int, limit: int) -> list[ChainedEntry]:
        async with self._sessions() as session:
            return await _SqlSnapshot(session).read_entries(after, limit)

    async def read_heads(self, after: int = 0, limit: int | None = None) -> list[SignedHead]:
        async with self._sessions() as session:
            return await _SqlSnapshot(session).read_heads(after, limit)

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[ChainSnapshot]:
        """Reads that all see the trail as it was at the first of them, whatever retention
        or the chainer commits meanwhile: one REPEATABLE READ transaction on PostgreSQL,
        one read transaction on SQLite (its write-ahead log keeps the pages it reads)."""
        async with self._sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            else:
                connection = await session.connection()
                await connection.exec_driver_sql("BEGIN")
            yield _SqlSnapshot(session)

    async def prune(self, cutoff: float, *, batch: int = PRUNE_BATCH) -> int:
        """In transactions of about ``batch`` entries each, every one ending at a signed
        head that stays (so the chain holds between them, and no transaction holds the
        write lock for long); the heads below each such head go with its entries."""
        removed = 0
        while True:
            async with self._sessions.begin() as session:
                if not await self._lock(session):
                    return removed
                anchor = await session.scalar(
                    select(AuditHeadRow.position)
                    .where(AuditHeadRow.at < cutoff)
                    .order_by(AuditHeadRow.position.desc())
                    .limit(1)
                )
                if anchor is None:
                    return removed
                first = await session.scalar(
                    select(func.min(AuditEntryRow.position)).where(
                        AuditEntryRow.position.is_not(None)
                    )
                )
                step = anchor
                if first is not None and first <= anchor:
                    step = await self._prune_step(session, first, min(anchor, first + batch - 1))
                deleted = await session.execute(
                    delete(AuditEntryRow).where(AuditEntryRow.position <= step)
                )
                await session.execute(delete(AuditHeadRow).where(AuditHeadRow.position < step))
                removed += int(deleted.rowcount or 0)  # type: ignore[attr-defined]
                if step == anchor:
                    return removed

    @staticmethod
    async def _prune_step(session: AsyncSession, first: int, through: int) -> int:
        """The highest head from ``first`` to ``through``, else the lowest above them."""
        within = await session.scalar(
            select(func.max(AuditHeadRow.position)).where(
                AuditHeadRow.position >= first, AuditHeadRow.position <= through
            )
        )
        if within is not None:
            return int(within)
        above = await session.scalar(
            select(func.min(AuditHeadRow.position)).where(AuditHeadRow.position > through)
        )
        assert above is not None  # the anchor itself is above
        return int(above)


class _SqlSnapshot:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def read_entries(self, after: int, limit: int) -> list[ChainedEntry]:
        rows = await self._session.scalars(
            select(AuditEntryRow)
            .where(AuditEntryRow.position > after)
            .order_by(AuditEntryRow.position)
            .limit(limit)
        )
        return [_chained(row) for row in rows]

    async def read_heads(self, after: int = 0, limit: int | None = None) -> list[SignedHead]:
        rows = await self._session.scalars(
            select(AuditHeadRow)
            .where(AuditHeadRow.position > after)
            .order_by(AuditHeadRow.position)
            .limit(limit)
        )
        return [_head(row) for row in rows]

    async def last_head(self) -> SignedHead | None:
        row = await SqlAuditChain._last_head(self._session)
        return None if row is None else _head(row)


def _unchained(row: AuditEntryRow) -> UnchainedEntry:
    return UnchainedEntry(
        at=row.at,
        actor_kind=row.actor_kind,
        actor=row.actor,
        action=row.action,
        outcome=row.outcome,
        facts=row.facts,
        subject_key=row.subject_key,
    )
