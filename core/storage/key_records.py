"""SQL implementation of the ``KeyRecords`` port: wrapped signing keys by ``kid``."""

from __future__ import annotations

from sqlalchemy import Float, LargeBinary, String, Text, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from core.encoding import json_dumps, strict_json_loads
from core.keys.provider import KeyRecord, UnknownKey
from core.storage.base import Base


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[str] = mapped_column(Text)
    wrapped_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)
    retired_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    certificate_chain: Mapped[str] = mapped_column(Text, default="[]")


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
    )


class SqlKeyRecords:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, record: KeyRecord) -> None:
        async with self._sessions.begin() as session:
            session.add(
                SigningKeyRow(
                    kid=record.kid,
                    owner=record.owner,
                    alg=record.alg,
                    public_jwk=json_dumps(record.public_jwk),
                    wrapped_private_key=record.wrapped_private_key,
                    created_at=record.created_at,
                    retired_at=record.retired_at,
                    certificate_chain=json_dumps(list(record.certificate_chain)),
                )
            )

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

    async def retire(self, kid: str, at: float) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(SigningKeyRow)
                .where(SigningKeyRow.kid == kid, SigningKeyRow.retired_at.is_(None))
                .values(retired_at=at)
            )

    async def set_certificate_chain(self, kid: str, chain: tuple[str, ...]) -> None:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(SigningKeyRow)
                .where(SigningKeyRow.kid == kid)
                .values(certificate_chain=json_dumps(list(chain)))
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise UnknownKey(kid)
