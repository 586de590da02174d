"""Wallets' authorizations (the authorization code flow), kept in ``issuer_authorizations``.

Every change of state is one compare-and-set on the state the caller read, so of two
requests that race to use a request_uri or a code exactly one wins, whichever worker
serves it.
"""

from __future__ import annotations

import json

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from issuers.domain import Authorization, AuthorizationState
from issuers.storage.tables import AuthorizationRow


def _authorization(row: AuthorizationRow) -> Authorization:
    return Authorization(
        authorization_id=row.authorization_id,
        issuer_id=row.issuer_id,
        request_uri_hash=row.request_uri_hash,
        client_id=row.client_id,
        redirect_uri=row.redirect_uri,
        code_challenge=row.code_challenge,
        configuration_ids=tuple(json.loads(row.configuration_ids)),
        state=AuthorizationState(row.state),
        created_at=row.created_at,
        expires_at=row.expires_at,
        wallet_state=row.wallet_state,
        offer_id=row.offer_id,
        dpop_jkt=row.dpop_jkt,
        client_key=row.client_key,
        subject_id=row.subject_id,
        code_hash=row.code_hash,
    )


class SqlAuthorizationStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, authorization: Authorization) -> None:
        async with self._sessions.begin() as session:
            session.add(
                AuthorizationRow(
                    authorization_id=authorization.authorization_id,
                    issuer_id=authorization.issuer_id,
                    request_uri_hash=authorization.request_uri_hash,
                    client_id=authorization.client_id,
                    redirect_uri=authorization.redirect_uri,
                    code_challenge=authorization.code_challenge,
                    configuration_ids=json.dumps(list(authorization.configuration_ids)),
                    state=authorization.state.value,
                    created_at=authorization.created_at,
                    expires_at=authorization.expires_at,
                    wallet_state=authorization.wallet_state,
                    offer_id=authorization.offer_id,
                    dpop_jkt=authorization.dpop_jkt,
                    client_key=authorization.client_key,
                )
            )

    async def by_request_uri(self, issuer_id: str, request_uri_hash: str) -> Authorization | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(AuthorizationRow).where(
                    AuthorizationRow.request_uri_hash == request_uri_hash,
                    AuthorizationRow.issuer_id == issuer_id,
                )
            )
            return None if row is None else _authorization(row)

    async def by_code(self, issuer_id: str, code_hash: str) -> Authorization | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(AuthorizationRow).where(
                    AuthorizationRow.code_hash == code_hash,
                    AuthorizationRow.issuer_id == issuer_id,
                )
            )
            return None if row is None else _authorization(row)

    async def move(
        self,
        authorization_id: str,
        *,
        expected: AuthorizationState,
        state: AuthorizationState,
        now: float,
        expires_at: float | None = None,
        subject_id: str | None = None,
        code_hash: str | None = None,
        offer_id: str | None = None,
    ) -> bool:
        """Compare-and-set from ``expected`` (and not yet expired at ``now``) to ``state``;
        False when another request moved it first or it ran out."""
        values: dict[str, object] = {"state": state.value}
        if expires_at is not None:
            values["expires_at"] = expires_at
        if subject_id is not None:
            values["subject_id"] = subject_id
        if code_hash is not None:
            values["code_hash"] = code_hash
        if offer_id is not None:
            values["offer_id"] = offer_id
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(AuthorizationRow)
                .where(
                    AuthorizationRow.authorization_id == authorization_id,
                    AuthorizationRow.state == expected.value,
                    AuthorizationRow.expires_at > now,
                )
                .values(**values)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def purge(self, before: float) -> int:
        """Forget authorizations that ended before ``before``."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(AuthorizationRow).where(AuthorizationRow.expires_at < before)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]
