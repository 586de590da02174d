"""SQL implementation of the ``KeyRecords`` port: wrapped private keys by ``kid``, signing
keys and decryption keys alike (``alg`` tells them apart; the table keeps its first name).

A partial unique index allows one active (unretired) key per owner, so a first key and a
rotation are single-winner however many workers attempt them at once: the insert of the
new active key is ``ON CONFLICT DO NOTHING`` and its row count decides.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from core.encoding import json_dumps, strict_json_loads
from core.keys.records import KeyRecord, UnknownKey
from core.storage.base import Base
from core.storage.change_feed import KEYS, ChangeFeed, announce_changes
from core.storage.driver import is_postgresql, postgres_connection


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"
    __table_args__ = (
        Index(
            "uq_signing_keys_active_owner",
            "owner",
            unique=True,
            sqlite_where=text("retired_at IS NULL"),
            postgresql_where=text("retired_at IS NULL"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[str] = mapped_column(Text)
    wrapped_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)
    retired_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    certificate_chain: Mapped[str] = mapped_column(Text, default="[]")
    location: Mapped[str] = mapped_column(String(16), default="software", server_default="software")
    key_reference: Mapped[str] = mapped_column(String(64), default="", server_default="")
    destroyed_at: Mapped[float | None] = mapped_column(Float, nullable=True)


#: On PostgreSQL, every change to the keys, whoever makes it (a worker, ``idwallet keys``,
#: an administrator's SQL), is told to every worker's change feed as it commits.
KEYS_CHANGED = announce_changes(
    cast(Table, SigningKeyRow.__table__), KEYS, "INSERT OR UPDATE OR DELETE OR TRUNCATE"
)


class KeyEventRow(Base):
    """What happened to keys and to the token they are in (no key material, no PIN)."""

    __tablename__ = "key_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    owner: Mapped[str] = mapped_column(String(200))
    kid: Mapped[str] = mapped_column(String(128), default="", server_default="")
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")


def _to_record(row: SigningKeyRow) -> KeyRecord:
    return KeyRecord(
        kid=row.kid,
        owner=row.owner,
        alg=row.alg,
        public_jwk=strict_json_loads(row.public_jwk),
        wrapped_private_key=bytes(row.wrapped_private_key),
        created_at=row.created_at,
        retired_at=row.retired_at,
        certificate_chain=tuple(strict_json_loads(row.certificate_chain)),
        location=row.location,
        key_reference=row.key_reference,
        destroyed_at=row.destroyed_at,
    )


def _event(at: float, record: KeyRecord, action: str, detail: str) -> KeyEventRow:
    """A key event written in the transaction that stores what it records."""
    return KeyEventRow(at=at, owner=record.owner, kid=record.kid, action=action, detail=detail)


class _RotationLost(Exception):
    """Another rotation's key became active first."""


async def _insert_active(session: AsyncSession, record: KeyRecord) -> bool:
    values = {
        "kid": record.kid,
        "owner": record.owner,
        "alg": record.alg,
        "public_jwk": json_dumps(record.public_jwk),
        "wrapped_private_key": record.wrapped_private_key,
        "created_at": record.created_at,
        "retired_at": None,
        "certificate_chain": json_dumps(list(record.certificate_chain)),
        "location": record.location,
        "key_reference": record.key_reference,
        "destroyed_at": None,
    }
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql_insert if dialect == "postgresql" else sqlite_insert
    result = await session.execute(insert(SigningKeyRow).values(values).on_conflict_do_nothing())
    inserted: bool = result.rowcount == 1  # type: ignore[attr-defined]
    return inserted


_ACTIVE_COLUMNS = (
    SigningKeyRow.kid,
    SigningKeyRow.owner,
    SigningKeyRow.alg,
    SigningKeyRow.public_jwk,
    SigningKeyRow.wrapped_private_key,
    SigningKeyRow.created_at,
    SigningKeyRow.retired_at,
    SigningKeyRow.certificate_chain,
    SigningKeyRow.location,
    SigningKeyRow.key_reference,
)
_ACTIVE = (
    "SELECT kid, owner, alg, public_jwk, wrapped_private_key, created_at, retired_at,"
    " certificate_chain, location, key_reference FROM signing_keys"
    " WHERE owner = $1 AND retired_at IS NULL"
)
#: Active keys whose parsed rows are kept (every tenant's, with room to spare).
_PARSED_KEPT = 256


class SqlKeyRecords:
    """With a ``feed`` (PostgreSQL), the active key of an owner is kept from one call to
    the next until any process changes a key (``core.storage.change_feed``); without one,
    it is read on every call."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], feed: ChangeFeed | None = None
    ) -> None:
        self._sessions = sessions
        self._engine: AsyncEngine = sessions.kw["bind"]
        self._postgres = is_postgresql(self._engine)
        self._parsed: dict[str, tuple[str, KeyRecord]] = {}
        self._feed = feed if self._postgres else None
        self._kept: dict[str, tuple[tuple[int, int], KeyRecord | None]] = {}
        #: Reads of an active key that went to the database (the rest were kept ones).
        self.reads = 0

    def _changed(self) -> None:
        """This process's own change: kept keys are stale at once, without waiting for the
        notification to come back."""
        if self._feed is not None:
            self._feed.changed(KEYS)
        self._kept.clear()

    async def add_active(self, record: KeyRecord) -> bool:
        async with self._sessions.begin() as session:
            if not await _insert_active(session, record):
                return False
            session.add(_event(record.created_at, record, "created", record.location))
        self._changed()
        return True

    async def replace_active(
        self, record: KeyRecord, at: float, *, replacing: str, why: str = "rotated"
    ) -> bool:
        try:
            async with self._sessions.begin() as session:
                retired = await session.execute(
                    update(SigningKeyRow)
                    .where(
                        SigningKeyRow.kid == replacing,
                        SigningKeyRow.owner == record.owner,
                        SigningKeyRow.retired_at.is_(None),
                    )
                    .values(retired_at=at)
                )
                if retired.rowcount != 1:  # type: ignore[attr-defined]
                    raise _RotationLost(record.owner)  # another rotation retired it first
                if not await _insert_active(session, record):
                    raise _RotationLost(record.owner)  # rolls the retirement back
                session.add(_event(at, record, why, f"replaces {replacing} ({record.location})"))
        except _RotationLost:
            return False
        self._changed()
        return True

    async def active(self, owner: str) -> KeyRecord | None:
        """Once a rotation is stored, no worker goes on with the retired key: read on every
        call, or kept while the change feed is live and has heard of no change since (it
        hears a rotation as it commits). The row's parse is kept while its chain is
        unchanged."""
        feed = self._feed
        stamp = (-1, -1)
        if feed is not None and feed.live:
            stamp = feed.stamp(KEYS)
            kept = self._kept.get(owner)
            if kept is not None and kept[0] == stamp:
                return kept[1]
        record = await self._read_active(owner)
        if feed is not None and feed.live and feed.stamp(KEYS) == stamp:
            if len(self._kept) >= _PARSED_KEPT:
                self._kept.clear()
            self._kept[owner] = (stamp, record)
        return record

    async def _read_active(self, owner: str) -> KeyRecord | None:
        self.reads += 1
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                row = await driver.fetchrow(_ACTIVE, owner)
        else:
            async with self._engine.connect() as connection:
                row = (
                    await connection.execute(
                        select(*_ACTIVE_COLUMNS).where(
                            SigningKeyRow.owner == owner, SigningKeyRow.retired_at.is_(None)
                        )
                    )
                ).first()
        if row is None:
            return None
        kid, chain = str(row[0]), str(row[7])
        known = self._parsed.get(kid)
        if known is not None and known[0] == chain:
            return known[1]
        record = KeyRecord(
            kid=kid,
            owner=str(row[1]),
            alg=str(row[2]),
            public_jwk=strict_json_loads(row[3]),
            wrapped_private_key=bytes(row[4]),
            created_at=float(row[5]),
            retired_at=None,
            certificate_chain=tuple(strict_json_loads(chain)),
            location=str(row[8]),
            key_reference=str(row[9]),
            destroyed_at=None,
        )
        if len(self._parsed) >= _PARSED_KEPT:
            self._parsed.clear()
        self._parsed[kid] = (chain, record)
        return record

    async def retired_before(self, cutoff: float) -> list[KeyRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(SigningKeyRow).where(
                    SigningKeyRow.retired_at < cutoff, SigningKeyRow.destroyed_at.is_(None)
                )
            )
            return [_to_record(r) for r in rows]

    async def mark_destroyed(self, kid: str, at: float) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(SigningKeyRow)
                .where(SigningKeyRow.kid == kid, SigningKeyRow.destroyed_at.is_(None))
                .values(destroyed_at=at, wrapped_private_key=b"")
                .returning(SigningKeyRow.owner, SigningKeyRow.location)
            )
            marked = result.first()
            if marked is None:
                return False
            session.add(
                KeyEventRow(at=at, owner=marked[0], kid=kid, action="destroyed", detail=marked[1])
            )
        self._changed()
        return True

    async def add_event(self, at: float, owner: str, kid: str, action: str, detail: str) -> None:
        async with self._sessions.begin() as session:
            session.add(
                KeyEventRow(
                    at=at, owner=owner[:200], kid=kid[:128], action=action[:32], detail=detail
                )
            )

    async def events(self, limit: int = 100) -> list[KeyEventRow]:
        """The latest key events, newest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(KeyEventRow).order_by(KeyEventRow.id.desc()).limit(limit)
            )
            return list(rows)

    async def by_kid(self, kid: str) -> KeyRecord | None:
        async with self._sessions() as session:
            row = await session.get(SigningKeyRow, kid)
            return _to_record(row) if row is not None else None

    async def for_owner(self, owner: str) -> list[KeyRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(SigningKeyRow)
                .where(SigningKeyRow.owner == owner)
                .order_by(SigningKeyRow.created_at, SigningKeyRow.kid)
            )
            return [_to_record(r) for r in rows]

    async def owners(self) -> list[str]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(SigningKeyRow.owner).distinct().order_by(SigningKeyRow.owner)
            )
            return list(rows)

    async def set_certificate_chain(self, kid: str, chain: tuple[str, ...]) -> None:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(SigningKeyRow)
                .where(SigningKeyRow.kid == kid)
                .values(certificate_chain=json_dumps(list(chain)))
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise UnknownKey(kid)
        self._changed()
