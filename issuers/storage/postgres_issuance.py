"""The issuance hot path on PostgreSQL, in its own driver's terms.

Redeeming a pre-authorized code is one statement (the offer's update and the access
grant's insert in one ``WITH``), and a credential request's transaction is BEGIN, the
grant used up and its offer read in one statement, the ``c_nonce`` and the credential
recorded, COMMIT. Every statement is prepared once per connection by the driver.
Everything else goes through the SQLAlchemy implementations these classes extend.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy.engine import Dialect

from core.replay import SingleUse, UsedBefore
from core.storage.driver import postgres_connection, typed_places
from core.storage.single_use import first_use_parameters, pg_first_uses, used_before
from issuers.domain import AccessGrant, AuditEvent, CodeIssue, Offer, OfferState
from issuers.ports import GrantWork
from issuers.storage.grant_work import TransactionGrantWork
from issuers.storage.offer_claims import SealedClaims
from issuers.storage.sql import (
    AUDIT_COLUMNS,
    Sessions,
    SqlCredentialLedger,
    SqlOfferStore,
    audit_row,
    code_move,
    offer_from_row,
)
from issuers.storage.tables import (
    AUDIT,
    OFFERS,
    ApplicationRow,
    CredentialResponseRow,
    CredentialRow,
    GrantUseRow,
    StatusListRow,
)

#: $8 true when the offer's transaction code was checked already; false redeems only
#: offers without one. $9 the DPoP key the access token is bound to (NULL: a bearer token).
REDEEM = (
    "WITH redeemed AS ("
    " UPDATE issuer_offers SET state = $6, redeemed_at = $3"
    " WHERE code_hash = $1 AND issuer_id = $2 AND state = $7 AND expires_at > $3"
    " AND ($8 OR tx_code_hash IS NULL) RETURNING *"
    "), granted AS ("
    " INSERT INTO issuer_access_grants"
    " (token_hash, offer_id, issuer_id, expires_at, used, dpop_jkt)"
    " SELECT $4, offer_id, issuer_id, $5, false, $9 FROM redeemed"
    ") SELECT * FROM redeemed"
)
USE_GRANT = (
    "WITH used AS ("
    " UPDATE issuer_access_grants SET used = true"
    " WHERE token_hash = $1 AND NOT used AND expires_at > $2"
    " AND dpop_jkt IS NOT DISTINCT FROM $3::varchar"
    " RETURNING offer_id, issuer_id, expires_at, dpop_jkt"
    ") SELECT used.issuer_id AS grant_issuer_id, used.expires_at AS grant_expires_at,"
    " used.dpop_jkt AS grant_dpop_jkt, o.*"
    " FROM used JOIN issuer_offers o ON o.offer_id = used.offer_id"
)
COUNT_GRANT_USES = "SELECT count(*) FROM issuer_grant_uses WHERE token_hash = $1"
REOPEN_GRANT = "UPDATE issuer_access_grants SET used = false WHERE token_hash = $1"
USE_NONCE = (
    "INSERT INTO issuer_nonces (nonce_hash, issuer_id, expires_at) VALUES ($1, $2, $3)"
    " ON CONFLICT DO NOTHING"
)
SWEEP_NONCES = (
    "DELETE FROM issuer_nonces WHERE nonce_hash IN"
    " (SELECT nonce_hash FROM issuer_nonces WHERE expires_at <= $1 LIMIT 200)"
)
RESERVE_PLACES = (
    "UPDATE issuer_status_lists SET allocated = allocated + $2"
    " WHERE list_id = $1 AND allocated + $2 <= $3"
)
LISTS_OF = (
    "SELECT list_id, size FROM issuer_status_lists WHERE issuer_id = $1 ORDER BY list_id DESC"
)


_INSERT_NEW: dict[tuple[str, tuple[str, ...]], str] = {}


def _insert_new_sql(table: str, columns: tuple[str, ...]) -> str:
    """INSERT … ON CONFLICT DO NOTHING of these columns, composed once per shape from
    the table's own names."""
    sql = _INSERT_NEW.get((table, columns))
    if sql is None:
        places = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({places})"  # noqa: S608
            " ON CONFLICT DO NOTHING"
        )
        _INSERT_NEW[table, columns] = sql
    return sql


def _changed_one(status: str) -> bool:
    """The command tag of an INSERT, UPDATE or DELETE says how many rows it touched."""
    return status.rsplit(" ", 1)[-1] == "1"


def _offer(record: Any, claims: SealedClaims) -> Offer:
    return offer_from_row(SimpleNamespace(**dict(record)), claims)


class PostgresIssuanceStatements:
    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def use_nonce(self, nonce_hash: str, issuer_id: str, expires_at: float) -> bool:
        return _changed_one(
            await self._connection.execute(USE_NONCE, nonce_hash, issuer_id, expires_at)
        )

    async def sweep_nonces(self, now: float) -> None:
        await self._connection.execute(SWEEP_NONCES, now)

    async def reserve_places(self, list_id: str, places: int, limit: int) -> bool:
        return _changed_one(await self._connection.execute(RESERVE_PLACES, list_id, places, limit))

    async def lists_of(self, issuer_id: str) -> list[tuple[str, int]]:
        rows = await self._connection.fetch(LISTS_OF, issuer_id)
        return [(row["list_id"], row["size"]) for row in rows]

    async def open_list(self, values: dict[str, Any]) -> None:
        await self._insert_new(StatusListRow, values)

    async def add_credential(self, values: dict[str, Any]) -> bool:
        return await self._insert_new(CredentialRow, values)

    async def remember_response(self, values: dict[str, Any]) -> None:
        if not await self._insert_new(CredentialResponseRow, values):
            raise ValueError("a response for this access token is kept already")

    async def use_grant_for(
        self, token_hash: str, configuration_id: str, expires_at: float
    ) -> bool:
        row = {
            "token_hash": token_hash,
            "configuration_id": configuration_id,
            "expires_at": expires_at,
        }
        return await self._insert_new(GrantUseRow, row)

    async def grant_uses(self, token_hash: str) -> int:
        count = await self._connection.fetchval(COUNT_GRANT_USES, token_hash)
        return int(count or 0)

    async def reopen_grant(self, token_hash: str) -> None:
        await self._connection.execute(REOPEN_GRANT, token_hash)

    async def add_application(self, values: dict[str, Any]) -> None:
        if not await self._insert_new(ApplicationRow, values):
            raise ValueError("an application for this access token exists already")

    async def _insert_new(self, table: Any, values: dict[str, Any]) -> bool:
        known = table.__table__.columns
        columns = tuple(name for name in values if name in known)
        if len(columns) != len(values):
            raise ValueError(f"not columns of {table.__tablename__}: {set(values) - set(columns)}")
        sql = _insert_new_sql(table.__tablename__, columns)
        return _changed_one(await self._connection.execute(sql, *values.values()))


_OFFER_COLUMNS = tuple(column.name for column in OFFERS.columns)
ADD_OFFER = (
    f"INSERT INTO issuer_offers ({', '.join(_OFFER_COLUMNS)})"  # noqa: S608
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(_OFFER_COLUMNS) + 1))})"
)


#: The offer and its audit entry in one statement (one round trip, one transaction).
_AUDIT_PLACES = range(len(_OFFER_COLUMNS) + 1, len(_OFFER_COLUMNS) + len(AUDIT_COLUMNS) + 1)
ADD_OFFER_WITH_AUDIT = (
    f"WITH offer AS ({ADD_OFFER})"  # noqa: S608
    f" INSERT INTO issuer_audit_events ({', '.join(AUDIT_COLUMNS)})"
    f" VALUES ({', '.join(f'${i}' for i in _AUDIT_PLACES)})"
)


def _pg_add_with_code(dialect: Dialect) -> str:
    """The authorization's move to ``code_issued`` (``PG_MOVE``'s, its parameters after
    the offer's and the audit entry's), and the offer and its audit entry inserted only
    when it moved; it answers how many moved."""
    offer_places = typed_places(OFFERS.columns, dialect)
    audit_places = typed_places(
        [AUDIT.c[name] for name in AUDIT_COLUMNS], dialect, first=len(_OFFER_COLUMNS) + 1
    )
    first = len(_OFFER_COLUMNS) + len(AUDIT_COLUMNS)
    move = [f"${first + i}" for i in range(1, 9)]
    return (
        "WITH moved AS ("  # noqa: S608
        f" UPDATE issuer_authorizations SET state = {move[1]}, expires_at = {move[4]},"
        f" subject_id = {move[5]}, code_hash = {move[6]}, offer_id = {move[7]}"
        f" WHERE authorization_id = {move[0]} AND state = {move[2]}"
        f" AND expires_at > {move[3]} RETURNING 1"
        f"), offer AS (INSERT INTO issuer_offers ({', '.join(_OFFER_COLUMNS)})"
        f" SELECT {offer_places} FROM moved"
        f"), audit AS (INSERT INTO issuer_audit_events ({', '.join(AUDIT_COLUMNS)})"
        f" SELECT {audit_places} FROM moved"
        ") SELECT count(*) FROM moved"
    )


class PostgresOfferStore(SqlOfferStore):
    def __init__(self, sessions: Sessions, claims: SealedClaims) -> None:
        super().__init__(sessions, claims)
        self._add_with_code = _pg_add_with_code(self._engine.dialect)

    async def add_with_code(self, offer: Offer, audit: AuditEvent, code: CodeIssue) -> bool:
        """One statement: the move first, the offer and its audit entry on its row."""
        row = self._row(offer)
        move = code_move(code, offer)
        async with postgres_connection(self._engine) as connection:
            moved = await connection.fetchval(
                self._add_with_code,
                *(row[name] for name in _OFFER_COLUMNS),
                *audit_row(audit),
                move["id"],
                move["state"],
                move["expected"],
                move["now"],
                move["expires_at"],
                move["subject_id"],
                move["code_hash"],
                move["offer_id"],
            )
        return bool(moved == 1)

    async def add(self, offer: Offer, *, audit: AuditEvent | None = None) -> None:
        row = self._row(offer)
        values = [row[name] for name in _OFFER_COLUMNS]
        async with postgres_connection(self._engine) as connection:
            if audit is None:
                await connection.execute(ADD_OFFER, *values)
            else:
                await connection.execute(ADD_OFFER_WITH_AUDIT, *values, *audit_row(audit))

    async def _redeem(
        self, code_hash: str, now: float, grant: AccessGrant, *, without_tx_code: bool
    ) -> Offer | None:
        async with postgres_connection(self._engine) as connection:
            record = await connection.fetchrow(
                REDEEM,
                code_hash,
                grant.issuer_id,
                now,
                grant.token_hash,
                grant.expires_at,
                OfferState.REDEEMED.value,
                OfferState.OFFERED.value,
                not without_tx_code,
                grant.dpop_jkt,
            )
        return _offer(record, self._claims) if record is not None else None


@cache
def pg_use_grant_spending(spend: int) -> str:
    """``USE_GRANT`` that uses up ``spend`` single-use values first (their parameters from
    $4 on) and the grant only when every one was seen first. One row: the hashes of the
    values seen first, then the grant and its offer (NULL columns when none was used)."""
    return (
        f"WITH spent AS ({pg_first_uses(spend, 4, 2)}), used AS ("  # noqa: S608
        " UPDATE issuer_access_grants SET used = true"
        " WHERE token_hash = $1 AND NOT used AND expires_at > $2"
        " AND dpop_jkt IS NOT DISTINCT FROM $3::varchar"
        f" AND (SELECT count(*) FROM spent) = {spend}"
        " RETURNING offer_id, issuer_id, expires_at, dpop_jkt"
        ") SELECT ARRAY(SELECT value_hash FROM spent) AS first_uses,"
        " used.issuer_id AS grant_issuer_id, used.expires_at AS grant_expires_at,"
        " used.dpop_jkt AS grant_dpop_jkt, o.*"
        " FROM (VALUES (1)) AS one (x) LEFT JOIN"
        " (used JOIN issuer_offers o ON o.offer_id = used.offer_id) ON true"
    )


class PostgresCredentialLedger(SqlCredentialLedger):
    @asynccontextmanager
    async def open_grant(
        self,
        token_hash: str,
        now: float,
        dpop_jkt: str | None = None,
        *,
        spend: Sequence[SingleUse] = (),
    ) -> AsyncIterator[GrantWork | None]:
        work: TransactionGrantWork | None = None
        async with (
            postgres_connection(self._engine) as connection,
            connection.transaction(),
        ):
            if spend:
                record = await connection.fetchrow(
                    pg_use_grant_spending(len(spend)),
                    token_hash,
                    now,
                    dpop_jkt,
                    *first_use_parameters(spend),
                )
                refused = used_before(spend, record["first_uses"])
                if refused is not None:
                    raise UsedBefore(refused)
                if record["offer_id"] is None:
                    record = None
            else:
                record = await connection.fetchrow(USE_GRANT, token_hash, now, dpop_jkt)
            if record is None:
                yield None
                return
            grant = AccessGrant(
                token_hash,
                record["offer_id"],
                record["grant_issuer_id"],
                record["grant_expires_at"],
                used=False,
                dpop_jkt=record["grant_dpop_jkt"],
            )
            work = TransactionGrantWork(
                PostgresIssuanceStatements(connection),
                self._places,
                grant,
                _offer(record, self._claims),
                self._claims,
            )
            yield work
        # Only now, with the COMMIT done, may other transactions use places it reserved.
        if work is not None:
            work.committed()
