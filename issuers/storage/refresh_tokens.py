"""Refresh tokens and their families, kept in ``issuer_refresh_tokens``.

Rotating a token is one compare-and-set from ``active`` (and unexpired), so of two
requests racing with the same token exactly one gets its successor, whichever worker
serves it; ending a family is one update of every token in it.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from issuers.domain import RefreshState, RefreshToken
from issuers.storage.tables import RefreshTokenRow

_LIVE = (RefreshState.ACTIVE.value, RefreshState.ROTATED.value)


def _token(row: RefreshTokenRow) -> RefreshToken:
    return RefreshToken(
        token_hash=row.token_hash,
        family_id=row.family_id,
        issuer_id=row.issuer_id,
        configuration_id=row.configuration_id,
        subject_id=row.subject_id,
        client_id=row.client_id,
        dpop_jkt=row.dpop_jkt,
        state=RefreshState(row.state),
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


class SqlRefreshTokenStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, token: RefreshToken) -> None:
        async with self._sessions.begin() as session:
            session.add(
                RefreshTokenRow(
                    token_hash=token.token_hash,
                    family_id=token.family_id,
                    issuer_id=token.issuer_id,
                    configuration_id=token.configuration_id,
                    subject_id=token.subject_id,
                    client_id=token.client_id,
                    dpop_jkt=token.dpop_jkt,
                    state=token.state.value,
                    created_at=token.created_at,
                    expires_at=token.expires_at,
                )
            )

    async def get(self, token_hash: str) -> RefreshToken | None:
        async with self._sessions() as session:
            row = await session.get(RefreshTokenRow, token_hash)
            return None if row is None else _token(row)

    async def rotate(self, token_hash: str, now: float) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(RefreshTokenRow)
                .where(
                    RefreshTokenRow.token_hash == token_hash,
                    RefreshTokenRow.state == RefreshState.ACTIVE.value,
                    RefreshTokenRow.expires_at > now,
                )
                .values(state=RefreshState.ROTATED.value)
            )
            return int(result.rowcount) == 1  # type: ignore[attr-defined]

    async def revoke_family(self, family_id: str) -> int:
        return await self._revoke(RefreshTokenRow.family_id == family_id)

    async def revoke_for_subject(
        self, issuer_id: str, subject_id: str, configuration_id: str | None = None
    ) -> int:
        conditions = [
            RefreshTokenRow.issuer_id == issuer_id,
            RefreshTokenRow.subject_id == subject_id,
        ]
        if configuration_id is not None:
            conditions.append(RefreshTokenRow.configuration_id == configuration_id)
        return await self._revoke(*conditions)

    async def _revoke(self, *conditions: object) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(RefreshTokenRow)
                .where(*conditions, RefreshTokenRow.state.in_(_LIVE))  # type: ignore[arg-type]
                .values(state=RefreshState.REVOKED.value)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]
