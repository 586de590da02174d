"""The credential request's statements in SQLAlchemy Core, for any database it speaks
(SQLite, and PostgreSQL outside the hot path)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from issuers.storage import statements
from issuers.storage.tables import (
    APPLICATIONS,
    GRANT_USES,
    GRANTS,
    RESPONSES,
    STATUS_LISTS,
    CredentialRow,
    GrantUseRow,
    NonceRow,
    StatusListRow,
)


async def insert_new(connection: AsyncConnection, table: type[Any], values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING (SQLite and PostgreSQL): True if the row went in."""
    statement = statements.insert_new(connection.dialect.name, table.__table__)
    result = await connection.execute(statement, values)
    inserted: bool = result.rowcount == 1
    return inserted


class CoreIssuanceStatements:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def use_nonce(self, nonce_hash: str, issuer_id: str, expires_at: float) -> bool:
        row = {"nonce_hash": nonce_hash, "issuer_id": issuer_id, "expires_at": expires_at}
        return await insert_new(self._connection, NonceRow, row)

    async def sweep_nonces(self, now: float) -> None:
        expired = select(NonceRow.nonce_hash).where(NonceRow.expires_at <= now).limit(200)
        await self._connection.execute(delete(NonceRow).where(NonceRow.nonce_hash.in_(expired)))

    async def reserve_places(self, list_id: str, places: int, limit: int) -> bool:
        result = await self._connection.execute(
            statements.RESERVE_PLACES, {"list": list_id, "places": places, "limit": limit}
        )
        reserved: bool = result.rowcount == 1
        return reserved

    async def lists_of(self, issuer_id: str) -> list[tuple[str, int]]:
        rows = await self._connection.execute(
            select(STATUS_LISTS.c.list_id, STATUS_LISTS.c.size)
            .where(STATUS_LISTS.c.issuer_id == issuer_id)
            .order_by(STATUS_LISTS.c.list_id.desc())
        )
        return [(row.list_id, row.size) for row in rows]

    async def open_list(self, values: dict[str, Any]) -> None:
        await insert_new(self._connection, StatusListRow, values)

    async def add_credential(self, values: dict[str, Any]) -> bool:
        return await insert_new(self._connection, CredentialRow, values)

    async def remember_response(self, values: dict[str, Any]) -> None:
        await self._connection.execute(RESPONSES.insert(), values)

    async def use_grant_for(
        self, token_hash: str, configuration_id: str, expires_at: float
    ) -> bool:
        row = {
            "token_hash": token_hash,
            "configuration_id": configuration_id,
            "expires_at": expires_at,
        }
        return await insert_new(self._connection, GrantUseRow, row)

    async def grant_uses(self, token_hash: str) -> int:
        count = await self._connection.scalar(
            select(func.count()).where(GRANT_USES.c.token_hash == token_hash)
        )
        return int(count or 0)

    async def reopen_grant(self, token_hash: str) -> None:
        await self._connection.execute(
            update(GRANTS).where(GRANTS.c.token_hash == token_hash).values(used=False)
        )

    async def add_application(self, values: dict[str, Any]) -> None:
        await self._connection.execute(APPLICATIONS.insert(), values)
