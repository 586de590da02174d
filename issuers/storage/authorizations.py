"""Wallets' authorizations (the authorization code flow), kept in ``issuer_authorizations``.

Every change of state is one compare-and-set on the state the caller read, so of two
requests that race to use a request_uri or a code exactly one wins, whichever worker
serves it.

Each step of the flow runs one of these statements, so they are built once: Core
statements on a plain connection (no ORM session), and on PostgreSQL the same statements
in the driver's terms (one round trip each, prepared once per connection, no transaction
around a single statement), as the issuance hot path does. The single-use values of a
pushed request and of a code's exchange are used up in the statement that makes the change
they allow (``core.storage.single_use``); the exchange is ``code_redemption``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.replay import SingleUse, UsedBefore
from core.storage.driver import changed_rows, is_postgresql, postgres_connection, typed_places
from core.storage.single_use import (
    first_use_parameters,
    first_uses_in,
    pg_first_uses,
    used_before,
)
from issuers.domain import (
    AccessGrant,
    Authorization,
    AuthorizationState,
    FirstRefreshToken,
    RedeemedCode,
    RefreshState,
)
from issuers.storage import code_redemption
from issuers.storage.tables import AuthorizationRow

_TABLE = cast(Table, AuthorizationRow.__table__)
_COLUMNS = tuple(column.name for column in _TABLE.columns)

ADD = _TABLE.insert()
BY_REQUEST_URI = select(_TABLE).where(
    _TABLE.c.request_uri_hash == bindparam("hash"), _TABLE.c.issuer_id == bindparam("issuer")
)
BY_CODE = select(_TABLE).where(
    _TABLE.c.code_hash == bindparam("hash"), _TABLE.c.issuer_id == bindparam("issuer")
)
BY_ID = select(_TABLE).where(
    _TABLE.c.authorization_id == bindparam("hash"), _TABLE.c.issuer_id == bindparam("issuer")
)
TAKE_PUSHED = (
    update(_TABLE)
    .where(
        _TABLE.c.request_uri_hash == bindparam("hash"),
        _TABLE.c.issuer_id == bindparam("issuer"),
        _TABLE.c.client_id == bindparam("client"),
        _TABLE.c.state == AuthorizationState.PUSHED.value,
        _TABLE.c.expires_at > bindparam("now"),
    )
    .values(state=bindparam("state"), expires_at=bindparam("expires_at"))
    .returning(*_TABLE.c)
)
#: What the caller passes as None is left as it is.
MOVE = (
    update(_TABLE)
    .where(
        _TABLE.c.authorization_id == bindparam("id"),
        _TABLE.c.state == bindparam("expected"),
        _TABLE.c.expires_at > bindparam("now"),
    )
    .values(
        state=bindparam("state"),
        expires_at=func.coalesce(bindparam("expires_at"), _TABLE.c.expires_at),
        subject_id=func.coalesce(bindparam("subject_id"), _TABLE.c.subject_id),
        code_hash=func.coalesce(bindparam("code_hash"), _TABLE.c.code_hash),
        offer_id=func.coalesce(bindparam("offer_id"), _TABLE.c.offer_id),
    )
)
#: The presentation asked for, kept on an authorization still authenticating.
SET_PRESENTATION = (
    update(_TABLE)
    .where(
        _TABLE.c.authorization_id == bindparam("id"),
        _TABLE.c.state == AuthorizationState.AUTHENTICATING.value,
        _TABLE.c.expires_at > bindparam("now"),
    )
    .values(presentation=bindparam("presentation"))
)

#: The same statements in the PostgreSQL driver's terms.
PG_ADD = (
    f"INSERT INTO issuer_authorizations ({', '.join(_COLUMNS)})"  # noqa: S608
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(_COLUMNS) + 1))})"
)


@cache
def pg_add_spending(spend: int, columns: str) -> str:
    """``PG_ADD`` that uses up ``spend`` single-use values first (their parameters after
    the columns' and the time's) and adds the authorization only when every one was seen
    first; it answers the hashes of those seen first. ``columns``: the parameters of the
    columns, each cast to its column's type (``typed_places``)."""
    now = len(_COLUMNS) + 1
    return (
        f"WITH spent AS ({pg_first_uses(spend, now + 1, now)}), added AS ("  # noqa: S608
        f" INSERT INTO issuer_authorizations ({', '.join(_COLUMNS)}) SELECT {columns}"
        f" WHERE (SELECT count(*) FROM spent) = {spend} RETURNING 1"
        ") SELECT ARRAY(SELECT value_hash FROM spent) AS first_uses"
    )


PG_BY_REQUEST_URI = (
    "SELECT * FROM issuer_authorizations WHERE request_uri_hash = $1 AND issuer_id = $2"
)
PG_BY_CODE = "SELECT * FROM issuer_authorizations WHERE code_hash = $1 AND issuer_id = $2"
PG_BY_ID = "SELECT * FROM issuer_authorizations WHERE authorization_id = $1 AND issuer_id = $2"
PG_TAKE_PUSHED = (
    "UPDATE issuer_authorizations SET state = $5, expires_at = $6"
    " WHERE request_uri_hash = $1 AND issuer_id = $2 AND client_id = $3"
    " AND state = $7 AND expires_at > $4 RETURNING *"
)
PG_MOVE = (
    "UPDATE issuer_authorizations SET state = $2,"
    " expires_at = COALESCE($5::double precision, expires_at),"
    " subject_id = COALESCE($6::varchar, subject_id),"
    " code_hash = COALESCE($7::varchar, code_hash),"
    " offer_id = COALESCE($8::varchar, offer_id)"
    " WHERE authorization_id = $1 AND state = $3 AND expires_at > $4"
)
PG_SET_PRESENTATION = (
    "UPDATE issuer_authorizations SET presentation = $3"
    " WHERE authorization_id = $1 AND state = $4 AND expires_at > $2"
)


def _authorization(row: Any) -> Authorization:
    """From an asyncpg record or a Core row mapping: both are read by column name."""
    return Authorization(
        authorization_id=row["authorization_id"],
        issuer_id=row["issuer_id"],
        request_uri_hash=row["request_uri_hash"],
        client_id=row["client_id"],
        redirect_uri=row["redirect_uri"],
        code_challenge=row["code_challenge"],
        configuration_ids=tuple(json.loads(row["configuration_ids"])),
        state=AuthorizationState(row["state"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        wallet_state=row["wallet_state"],
        offer_id=row["offer_id"],
        dpop_jkt=row["dpop_jkt"],
        client_key=row["client_key"],
        subject_id=row["subject_id"],
        code_hash=row["code_hash"],
        presentation=row["presentation"],
    )


def _values(authorization: Authorization) -> dict[str, Any]:
    return {
        "authorization_id": authorization.authorization_id,
        "issuer_id": authorization.issuer_id,
        "request_uri_hash": authorization.request_uri_hash,
        "client_id": authorization.client_id,
        "redirect_uri": authorization.redirect_uri,
        "code_challenge": authorization.code_challenge,
        "configuration_ids": json.dumps(list(authorization.configuration_ids)),
        "state": authorization.state.value,
        "created_at": authorization.created_at,
        "expires_at": authorization.expires_at,
        "wallet_state": authorization.wallet_state,
        "offer_id": authorization.offer_id,
        "dpop_jkt": authorization.dpop_jkt,
        "client_key": authorization.client_key,
        "subject_id": authorization.subject_id,
        "code_hash": authorization.code_hash,
        "presentation": authorization.presentation,
    }


class SqlAuthorizationStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._engine: AsyncEngine = sessions.kw["bind"]
        self._postgres = is_postgresql(self._engine)
        self._typed_places = (
            typed_places(_TABLE.columns, self._engine.dialect) if self._postgres else ""
        )

    async def add(self, authorization: Authorization, *, spend: Sequence[SingleUse] = ()) -> None:
        """``spend`` is taken over where forgotten by the authorization's creation time."""
        values = _values(authorization)
        now = authorization.created_at
        if self._postgres:
            columns = [values[name] for name in _COLUMNS]
            async with postgres_connection(self._engine) as driver:
                if not spend:
                    await driver.execute(PG_ADD, *columns)
                    return
                first = await driver.fetchval(
                    pg_add_spending(len(spend), self._typed_places),
                    *columns,
                    now,
                    *first_use_parameters(spend),
                )
            refused = used_before(spend, first)
        else:
            async with self._engine.begin() as connection:
                refused = await first_uses_in(connection, spend, now)
                if refused is None:
                    await connection.execute(ADD, values)
        if refused is not None:
            raise UsedBefore(refused)

    async def by_request_uri(self, issuer_id: str, request_uri_hash: str) -> Authorization | None:
        return await self._one(PG_BY_REQUEST_URI, BY_REQUEST_URI, request_uri_hash, issuer_id)

    async def by_code(self, issuer_id: str, code_hash: str) -> Authorization | None:
        return await self._one(PG_BY_CODE, BY_CODE, code_hash, issuer_id)

    async def get(self, issuer_id: str, authorization_id: str) -> Authorization | None:
        return await self._one(PG_BY_ID, BY_ID, authorization_id, issuer_id)

    async def _one(
        self, sql: str, statement: Any, hashed: str, issuer_id: str
    ) -> Authorization | None:
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                record = await driver.fetchrow(sql, hashed, issuer_id)
            return None if record is None else _authorization(record)
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(statement, {"hash": hashed, "issuer": issuer_id})
            ).first()
        return None if row is None else _authorization(row._mapping)

    async def take_pushed(
        self,
        issuer_id: str,
        request_uri_hash: str,
        *,
        client_id: str,
        now: float,
        state: AuthorizationState,
        expires_at: float,
    ) -> Authorization | None:
        """The read and the first move of the authorization endpoint in one statement:
        ``UPDATE … WHERE state = 'pushed' AND expires_at > now … RETURNING``."""
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                record = await driver.fetchrow(
                    PG_TAKE_PUSHED,
                    request_uri_hash,
                    issuer_id,
                    client_id,
                    now,
                    state.value,
                    expires_at,
                    AuthorizationState.PUSHED.value,
                )
            return None if record is None else _authorization(record)
        async with self._engine.begin() as connection:
            row = (
                await connection.execute(
                    TAKE_PUSHED,
                    {
                        "hash": request_uri_hash,
                        "issuer": issuer_id,
                        "client": client_id,
                        "now": now,
                        "state": state.value,
                        "expires_at": expires_at,
                    },
                )
            ).first()
        return None if row is None else _authorization(row._mapping)

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
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                status = await driver.execute(
                    PG_MOVE,
                    authorization_id,
                    state.value,
                    expected.value,
                    now,
                    expires_at,
                    subject_id,
                    code_hash,
                    offer_id,
                )
            return changed_rows(status) == 1
        async with self._engine.begin() as connection:
            result = await connection.execute(
                MOVE,
                {
                    "id": authorization_id,
                    "expected": expected.value,
                    "now": now,
                    "state": state.value,
                    "expires_at": expires_at,
                    "subject_id": subject_id,
                    "code_hash": code_hash,
                    "offer_id": offer_id,
                },
            )
        moved: bool = result.rowcount == 1
        return moved

    async def set_presentation(
        self, authorization_id: str, presentation: str, *, now: float
    ) -> bool:
        """Keep the presentation asked for on an authorization that is ``authenticating``
        and unexpired at ``now`` (replacing one asked for before); False otherwise."""
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                status = await driver.execute(
                    PG_SET_PRESENTATION,
                    authorization_id,
                    now,
                    presentation,
                    AuthorizationState.AUTHENTICATING.value,
                )
            return changed_rows(status) == 1
        async with self._engine.begin() as connection:
            result = await connection.execute(
                SET_PRESENTATION,
                {"id": authorization_id, "now": now, "presentation": presentation},
            )
        changed: bool = result.rowcount == 1
        return changed

    async def redeem_code(
        self,
        issuer_id: str,
        code_hash: str,
        *,
        now: float,
        client_id: str | None,
        redirect_uri: str | None,
        code_challenge: str | None,
        dpop_jkt: str,
        grant: AccessGrant,
        refresh_token: FirstRefreshToken | None,
        spend: Sequence[SingleUse] = (),
    ) -> RedeemedCode | None:
        """``client_id``, ``redirect_uri`` or ``code_challenge`` None: nothing matches."""
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                record = await driver.fetchrow(
                    code_redemption.pg_redeem_code(len(spend)),
                    code_hash,
                    issuer_id,
                    now,
                    client_id,
                    redirect_uri,
                    code_challenge,
                    dpop_jkt,
                    grant.token_hash,
                    grant.expires_at,
                    None if refresh_token is None else refresh_token.token_hash,
                    None if refresh_token is None else refresh_token.family_id,
                    None if refresh_token is None else refresh_token.expires_at,
                    *code_redemption.pg_state_parameters(),
                    *first_use_parameters(spend),
                )
            refused = used_before(spend, record["first_uses"])
            if refused is not None:
                raise UsedBefore(refused)
            if record["authorization_id"] is None:
                return None
            return RedeemedCode(
                _authorization(record), record["offer_redeemed"], record["refresh_token_kept"]
            )
        redeemed: RedeemedCode | None = None
        async with self._engine.begin() as connection:
            refused = await first_uses_in(connection, spend, now)
            if refused is None:
                row = (
                    await connection.execute(
                        code_redemption.MOVE_CODE,
                        {
                            "code": code_hash,
                            "issuer": issuer_id,
                            "now": now,
                            "client": client_id,
                            "redirect": redirect_uri,
                            "challenge": code_challenge,
                            "jkt": dpop_jkt,
                        },
                    )
                ).first()
                if row is not None:
                    redeemed = await self._redeem_offer(
                        connection, _authorization(row._mapping), now, grant, refresh_token
                    )
        if refused is not None:
            raise UsedBefore(refused)
        return redeemed

    @staticmethod
    async def _redeem_offer(
        connection: Any,
        authorization: Authorization,
        now: float,
        grant: AccessGrant,
        refresh_token: FirstRefreshToken | None,
    ) -> RedeemedCode:
        """The redeemed code's offer, grant and refresh token, in its transaction."""
        result = await connection.execute(
            code_redemption.REDEEM_OFFER,
            {"offer": authorization.offer_id, "issuer": authorization.issuer_id, "now": now},
        )
        if result.rowcount != 1:
            return RedeemedCode(authorization, offer_redeemed=False, refresh_token_kept=False)
        await connection.execute(
            code_redemption.INSERT_GRANT,
            {
                "token_hash": grant.token_hash,
                "offer_id": authorization.offer_id,
                "issuer_id": authorization.issuer_id,
                "expires_at": grant.expires_at,
                "used": False,
                "dpop_jkt": grant.dpop_jkt,
            },
        )
        if refresh_token is None or authorization.subject_id is None:
            return RedeemedCode(authorization, offer_redeemed=True, refresh_token_kept=False)
        await connection.execute(
            code_redemption.INSERT_REFRESH_TOKEN,
            {
                "token_hash": refresh_token.token_hash,
                "family_id": refresh_token.family_id,
                "issuer_id": authorization.issuer_id,
                "configuration_id": authorization.configuration_ids[0],
                "subject_id": authorization.subject_id,
                "client_id": authorization.client_id,
                "dpop_jkt": grant.dpop_jkt,
                "state": RefreshState.ACTIVE.value,
                "created_at": now,
                "expires_at": refresh_token.expires_at,
            },
        )
        return RedeemedCode(authorization, offer_redeemed=True, refresh_token_kept=True)

    async def purge(self, before: float) -> int:
        """Forget authorizations that ended before ``before``."""
        async with self._engine.begin() as connection:
            result = await connection.execute(delete(_TABLE).where(_TABLE.c.expires_at < before))
        return max(result.rowcount, 0)
