"""Refresh tokens and their families, kept in ``issuer_refresh_tokens``.

Rotating a token is one compare-and-set from ``active`` (and unexpired), so of two
requests racing with the same token exactly one gets its successor, whichever worker
serves it; ending a family is one update of every token in it.

Adding, reading and rotating run on every token response and refresh, so they are
statements built once on a plain connection (no ORM session), on PostgreSQL through the
driver (one round trip each, no transaction around a single statement).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.storage.driver import changed_rows, is_postgresql, postgres_connection
from issuers.domain import RefreshState, RefreshToken
from issuers.storage.tables import RefreshTokenRow

_LIVE = (RefreshState.ACTIVE.value, RefreshState.ROTATED.value)
_TABLE = cast(Table, RefreshTokenRow.__table__)
_COLUMNS = tuple(column.name for column in _TABLE.columns)

ADD = _TABLE.insert()
GET = select(_TABLE).where(_TABLE.c.token_hash == bindparam("hash"))
ROTATE = (
    update(_TABLE)
    .where(
        _TABLE.c.token_hash == bindparam("hash"),
        _TABLE.c.state == RefreshState.ACTIVE.value,
        _TABLE.c.expires_at > bindparam("now"),
    )
    .values(state=RefreshState.ROTATED.value)
)

#: The same statements in the PostgreSQL driver's terms.
PG_ADD = (
    f"INSERT INTO issuer_refresh_tokens ({', '.join(_COLUMNS)})"  # noqa: S608
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(_COLUMNS) + 1))})"
)
PG_GET = "SELECT * FROM issuer_refresh_tokens WHERE token_hash = $1"
PG_ROTATE = (
    "UPDATE issuer_refresh_tokens SET state = $3"
    " WHERE token_hash = $1 AND state = $4 AND expires_at > $2"
)


def _token(row: Any) -> RefreshToken:
    """From an asyncpg record or a Core row mapping: both are read by column name."""
    return RefreshToken(
        token_hash=row["token_hash"],
        family_id=row["family_id"],
        issuer_id=row["issuer_id"],
        configuration_id=row["configuration_id"],
        subject_id=row["subject_id"],
        client_id=row["client_id"],
        dpop_jkt=row["dpop_jkt"],
        state=RefreshState(row["state"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )


def _values(token: RefreshToken) -> dict[str, Any]:
    return {
        "token_hash": token.token_hash,
        "family_id": token.family_id,
        "issuer_id": token.issuer_id,
        "configuration_id": token.configuration_id,
        "subject_id": token.subject_id,
        "client_id": token.client_id,
        "dpop_jkt": token.dpop_jkt,
        "state": token.state.value,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
    }


class SqlRefreshTokenStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._engine: AsyncEngine = sessions.kw["bind"]
        self._postgres = is_postgresql(self._engine)

    async def add(self, token: RefreshToken) -> None:
        values = _values(token)
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                await driver.execute(PG_ADD, *(values[name] for name in _COLUMNS))
            return
        async with self._engine.begin() as connection:
            await connection.execute(ADD, values)

    async def get(self, token_hash: str) -> RefreshToken | None:
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                record = await driver.fetchrow(PG_GET, token_hash)
            return None if record is None else _token(record)
        async with self._engine.connect() as connection:
            row = (await connection.execute(GET, {"hash": token_hash})).first()
        return None if row is None else _token(row._mapping)

    async def rotate(self, token_hash: str, now: float) -> bool:
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                status = await driver.execute(
                    PG_ROTATE,
                    token_hash,
                    now,
                    RefreshState.ROTATED.value,
                    RefreshState.ACTIVE.value,
                )
            return changed_rows(status) == 1
        async with self._engine.begin() as connection:
            result = await connection.execute(ROTATE, {"hash": token_hash, "now": now})
        rotated: bool = result.rowcount == 1
        return rotated

    async def revoke_family(self, family_id: str) -> int:
        return await self._revoke(_TABLE.c.family_id == family_id)

    async def revoke_for_subject(
        self, issuer_id: str, subject_id: str, configuration_id: str | None = None
    ) -> int:
        conditions = [
            _TABLE.c.issuer_id == issuer_id,
            _TABLE.c.subject_id == subject_id,
        ]
        if configuration_id is not None:
            conditions.append(_TABLE.c.configuration_id == configuration_id)
        return await self._revoke(*conditions)

    async def _revoke(self, *conditions: Any) -> int:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(_TABLE)
                .where(*conditions, _TABLE.c.state.in_(_LIVE))
                .values(state=RefreshState.REVOKED.value)
            )
        return max(result.rowcount, 0)
