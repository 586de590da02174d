"""Applications for credentials a clerk approves first, kept in ``issuer_applications``.

Every change of state is one compare-and-set on the state the caller read (``UPDATE …
WHERE state = 'pending'``), so of racing clerks, or racing deferred requests of a wallet,
exactly one wins, whichever worker serves them. A delivery's transaction starts with its
move to ``delivered`` and signs and records the credentials in the same transaction, with
the statements the credential request uses (SQLAlchemy Core on either database: deliveries
are rare, a clerk approved each).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from issuers.domain import APPLICATION_MOVES, Application, ApplicationState
from issuers.ports import ApplicationDelivery
from issuers.storage.application_records import ApplicationRecords
from issuers.storage.grant_work import (
    STATUS_LIST_SIZE,
    IssuanceTarget,
    StatusPlaces,
    TransactionIssuance,
)
from issuers.storage.offer_claims import REDACTED, SealedClaims
from issuers.storage.sqlalchemy_issuance import CoreIssuanceStatements
from issuers.storage.tables import APPLICATIONS

#: The stored states an application may still move out of (pending, approved).
_LIVE = tuple(s.value for s in ApplicationState if not APPLICATION_MOVES.is_final(s))


class TransactionDelivery(TransactionIssuance):
    """An approved application's credentials, issued in the transaction that moved it to
    ``delivered``."""

    def __init__(
        self, connection: AsyncConnection, places: StatusPlaces, application: Application
    ) -> None:
        super().__init__(
            CoreIssuanceStatements(connection),
            places,
            IssuanceTarget(
                application.issuer_id,
                application.offer_id,
                application.subject_id,
                application.configuration_id,
            ),
        )
        self._connection = connection
        self.application = application

    async def keep_response(self, sealed: bytes, until: float) -> None:
        await self._connection.execute(
            update(APPLICATIONS)
            .where(APPLICATIONS.c.application_id == self.application.application_id)
            .values(response=sealed, expires_at=until, sealed=REDACTED)
        )


class SqlApplicationStore:
    """``status_list_size``: the number of indices of each new status list."""

    def __init__(
        self, engine: AsyncEngine, claims: SealedClaims, status_list_size: int = STATUS_LIST_SIZE
    ) -> None:
        self._engine = engine
        self._records = ApplicationRecords(claims)
        self._places = StatusPlaces(status_list_size)

    async def _one(self, *conditions: Any) -> Application | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(APPLICATIONS).where(*conditions))).first()
        return None if row is None else self._records.application(row)

    async def by_token(self, issuer_id: str, token_hash: str) -> Application | None:
        return await self._one(
            APPLICATIONS.c.token_hash == token_hash, APPLICATIONS.c.issuer_id == issuer_id
        )

    async def get(self, issuer_id: str, application_id: str) -> Application | None:
        return await self._one(
            APPLICATIONS.c.application_id == application_id,
            APPLICATIONS.c.issuer_id == issuer_id,
        )

    async def listed(
        self, issuer_id: str, *, now: float, state: ApplicationState | None, limit: int
    ) -> list[Application]:
        query = select(APPLICATIONS).where(APPLICATIONS.c.issuer_id == issuer_id)
        if state is ApplicationState.EXPIRED:
            query = query.where(APPLICATIONS.c.state.in_(_LIVE), APPLICATIONS.c.expires_at <= now)
        elif state is not None and state.value in _LIVE:
            query = query.where(
                APPLICATIONS.c.state == state.value, APPLICATIONS.c.expires_at > now
            )
        elif state is not None:
            query = query.where(APPLICATIONS.c.state == state.value)
        query = query.order_by(APPLICATIONS.c.created_at, APPLICATIONS.c.application_id)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query.limit(limit))).all()
        return [self._records.application(row) for row in rows]

    async def move(
        self,
        issuer_id: str,
        application_id: str,
        *,
        expected: ApplicationState,
        state: ApplicationState,
        now: float,
        refusal_reason: str | None = None,
    ) -> bool:
        values: dict[str, Any] = {"state": state.value, "decided_at": now}
        if state is ApplicationState.REFUSED:
            values["sealed"] = REDACTED
            values["refusal"] = self._records.seal_reason(application_id, refusal_reason or "")
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(APPLICATIONS)
                .where(
                    APPLICATIONS.c.application_id == application_id,
                    APPLICATIONS.c.issuer_id == issuer_id,
                    APPLICATIONS.c.state == expected.value,
                    APPLICATIONS.c.expires_at > now,
                )
                .values(**values)
            )
        return result.rowcount == 1

    async def withdraw_for_offer(self, offer_id: str, now: float) -> int:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(APPLICATIONS)
                .where(APPLICATIONS.c.offer_id == offer_id, APPLICATIONS.c.state.in_(_LIVE))
                .values(state=ApplicationState.WITHDRAWN.value, decided_at=now, sealed=REDACTED)
            )
        return int(result.rowcount)

    @asynccontextmanager
    async def open_delivery(
        self, issuer_id: str, application_id: str, now: float
    ) -> AsyncIterator[ApplicationDelivery | None]:
        """The move to ``delivered`` is the transaction's first statement (a write, so it
        holds the write lock from the start on SQLite too); anything raised inside rolls it
        back, and the application is approved again."""
        work: TransactionDelivery | None = None
        async with self._engine.begin() as connection:
            row = (
                await connection.execute(
                    update(APPLICATIONS)
                    .where(
                        APPLICATIONS.c.application_id == application_id,
                        APPLICATIONS.c.issuer_id == issuer_id,
                        APPLICATIONS.c.state == ApplicationState.APPROVED.value,
                        APPLICATIONS.c.expires_at > now,
                    )
                    .values(state=ApplicationState.DELIVERED.value, delivered_at=now)
                    .returning(*APPLICATIONS.c)
                )
            ).first()
            if row is None:
                yield None
                return
            work = TransactionDelivery(connection, self._places, self._records.application(row))
            yield work
        # Only now, with the COMMIT done, may other transactions use places it reserved.
        work.committed()
