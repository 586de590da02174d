"""SQL implementation of the verifier's ``TransactionStore``.

Every transition is one conditional ``UPDATE`` whose row count decides (a compare-and-set
on the states ``TRANSACTION_MOVES`` moves from), so concurrent fetches of a request object
or concurrent answers end with exactly one winner on SQLite and PostgreSQL alike. The
states are stored as their values.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.audit.trail import AuditEntry
from core.encoding import json_dumps, strict_json_object
from core.storage.audit_trail import append_in
from verifiers.domain import SERVED_STATES, Transaction, TransactionState
from verifiers.storage.tables import TransactionRow

_MAX_JSON = 4 * 1024 * 1024


def transaction_from_row(row: Any) -> Transaction:
    return Transaction(
        transaction_id=row.transaction_id,
        verifier_id=row.verifier_id,
        request_id=row.request_id,
        purpose=row.purpose,
        dcql_query=strict_json_object(row.dcql_query, max_bytes=_MAX_JSON),
        nonce=row.nonce,
        state=row.state,
        response_mode=row.response_mode,
        same_device=bool(row.same_device),
        client_id=row.client_id,
        status=TransactionState(row.status),
        created_at=row.created_at,
        expires_at=row.expires_at,
        request_fetched_at=row.request_fetched_at,
        completed_at=row.completed_at,
        result=strict_json_object(row.result, max_bytes=_MAX_JSON) if row.result else None,
        response_code_hash=row.response_code_hash,
        wallet_nonce=row.wallet_nonce,
        extra=strict_json_object(row.extra, max_bytes=_MAX_JSON),
    )


_TABLE = cast(Table, TransactionRow.__table__)
_COLUMNS = _TABLE.c
# Built once with bound parameters: building a statement per call costs more than running it.
_INSERT = _TABLE.insert()
_BY_ID = select(_TABLE).where(
    _COLUMNS.transaction_id == bindparam("id"), _COLUMNS.verifier_id == bindparam("verifier")
)
_BY_REQUEST = select(_TABLE).where(_COLUMNS.request_id == bindparam("request"))
_MARK_FETCHED = (
    update(_TABLE)
    .where(
        _COLUMNS.request_id == bindparam("request"),
        _COLUMNS.verifier_id == bindparam("verifier"),
        _COLUMNS.status.in_(sorted(state.value for state in SERVED_STATES)),
        _COLUMNS.expires_at > bindparam("now"),
    )
    .values(
        status=TransactionState.REQUEST_FETCHED.value,
        request_fetched_at=func.coalesce(_COLUMNS.request_fetched_at, bindparam("now")),
        wallet_nonce=bindparam("wallet_nonce"),
    )
    .returning(*_COLUMNS)
)
_COMPLETE = (
    update(_TABLE)
    .where(
        _COLUMNS.request_id == bindparam("request"),
        _COLUMNS.status == TransactionState.REQUEST_FETCHED.value,
        _COLUMNS.expires_at > bindparam("now"),
    )
    .values(
        status=bindparam("new_status"),
        completed_at=bindparam("now"),
        result=bindparam("result"),
        response_code_hash=bindparam("code_hash"),
    )
)
_RELEASE = (
    update(_TABLE)
    .where(
        _COLUMNS.transaction_id == bindparam("id"),
        _COLUMNS.verifier_id == bindparam("verifier"),
        _COLUMNS.response_code_hash == bindparam("code_hash"),
    )
    .values(response_code_hash=None)
    .returning(*_COLUMNS)
)


#: Literal, so that the partial index of open requests applies (SQLite matches a partial
#: index's condition only against literals): the states that are not final.
_OPEN = text("verifier_transactions.status IN ('waiting', 'request_fetched')")


def _row(transaction: Transaction) -> dict[str, Any]:
    return {
        "transaction_id": transaction.transaction_id,
        "verifier_id": transaction.verifier_id,
        "request_id": transaction.request_id,
        "purpose": transaction.purpose,
        "dcql_query": json_dumps(transaction.dcql_query),
        "nonce": transaction.nonce,
        "state": transaction.state,
        "response_mode": transaction.response_mode,
        "same_device": transaction.same_device,
        "client_id": transaction.client_id,
        "status": transaction.status.value,
        "created_at": transaction.created_at,
        "expires_at": transaction.expires_at,
        "extra": json_dumps(transaction.extra),
    }


class SqlTransactionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, transaction: Transaction, audit: AuditEntry | None = None) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(_INSERT, _row(transaction))
            if audit is not None:
                await append_in(connection, audit, transaction.created_at)

    async def count_open(self, verifier_id: str, now: float, limit: int) -> int:
        open_requests = (
            select(_COLUMNS.transaction_id)
            .where(_COLUMNS.verifier_id == verifier_id, _OPEN, _COLUMNS.expires_at > now)
            .limit(limit)
            .subquery()
        )
        async with self._engine.connect() as connection:
            counted = await connection.scalar(select(func.count()).select_from(open_requests))
        return int(counted or 0)

    async def _one(self, statement: Any, parameters: dict[str, Any]) -> Transaction | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(statement, parameters)).first()
        return transaction_from_row(row) if row is not None else None

    async def _change(self, statement: Any, parameters: dict[str, Any]) -> Transaction | None:
        async with self._engine.begin() as connection:
            row = (await connection.execute(statement, parameters)).first()
        return transaction_from_row(row) if row is not None else None

    async def get(self, verifier_id: str, transaction_id: str) -> Transaction | None:
        return await self._one(_BY_ID, {"id": transaction_id, "verifier": verifier_id})

    async def by_request_id(self, request_id: str) -> Transaction | None:
        return await self._one(_BY_REQUEST, {"request": request_id})

    async def mark_request_fetched(
        self, verifier_id: str, request_id: str, now: float, wallet_nonce: str | None
    ) -> Transaction | None:
        parameters = {
            "request": request_id,
            "verifier": verifier_id,
            "now": now,
            "wallet_nonce": wallet_nonce,
        }
        return await self._change(_MARK_FETCHED, parameters)

    async def complete(
        self,
        request_id: str,
        *,
        status: TransactionState,
        result: dict[str, Any],
        now: float,
        response_code_hash: str | None,
        audit: AuditEntry | None = None,
    ) -> bool:
        parameters = {
            "request": request_id,
            "now": now,
            "new_status": status.value,
            "result": json_dumps(result),
            "code_hash": response_code_hash,
        }
        async with self._engine.begin() as connection:
            outcome = await connection.execute(_COMPLETE, parameters)
            done: bool = outcome.rowcount == 1
            if done and audit is not None:
                await append_in(connection, audit, now)
        return done

    async def release_result(
        self, verifier_id: str, transaction_id: str, response_code_hash: str
    ) -> Transaction | None:
        parameters = {
            "id": transaction_id,
            "verifier": verifier_id,
            "code_hash": response_code_hash,
        }
        return await self._change(_RELEASE, parameters)

    async def purge(self, before: float) -> int:
        async with self._engine.begin() as connection:
            outcome = await connection.execute(delete(_TABLE).where(_COLUMNS.created_at < before))
        purged: int = outcome.rowcount
        return purged
