"""The transaction store on PostgreSQL in its own driver's terms: every operation of a
verification (add, the two reads, the two transitions) is one autocommitted statement, one round
trip, on the driver's connection borrowed from the engine's pool. The rest goes through
the SQLAlchemy implementation this class extends."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from core.audit.trail import AuditEntry
from core.encoding import json_dumps
from core.storage.audit_trail import append_values, pg_append_after
from core.storage.driver import postgres_connection
from verifiers.domain import SERVED_STATES, Transaction, TransactionState
from verifiers.storage.sql import SqlTransactionStore, transaction_from_row

INSERT = (
    "INSERT INTO verifier_transactions (transaction_id, verifier_id, request_id, purpose,"
    " dcql_query, nonce, state, response_mode, same_device, client_id, status, created_at,"
    " expires_at, extra) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
)
BY_REQUEST = "SELECT * FROM verifier_transactions WHERE request_id = $1"
BY_ID = "SELECT * FROM verifier_transactions WHERE transaction_id = $1 AND verifier_id = $2"
MARK_FETCHED = (
    "UPDATE verifier_transactions SET status = $3,"
    " request_fetched_at = coalesce(request_fetched_at, $2), wallet_nonce = $4"
    " WHERE request_id = $1 AND verifier_id = $6 AND status = ANY($5::text[])"
    " AND expires_at > $2 RETURNING *"
)
#: The values ``MARK_FETCHED`` moves from (``SERVED_STATES``).
_SERVED = sorted(state.value for state in SERVED_STATES)
COMPLETE = (
    "UPDATE verifier_transactions SET status = $3, completed_at = $2, result = $4,"
    " response_code_hash = $5 WHERE request_id = $1 AND status = $6 AND expires_at > $2"
)

# The same, with the trail entry of the change written by the same statement
# (``core.storage.audit_trail.pg_append_after``): only where the change was made.
INSERT_WITH_TRAIL = f"WITH added AS ({INSERT} RETURNING 1) {pg_append_after('added', 15)}"
COMPLETE_WITH_TRAIL = (
    f"WITH done AS ({COMPLETE} RETURNING 1) {pg_append_after('done', 7)} RETURNING 1"
)


def _transaction(record: Any) -> Transaction:
    return transaction_from_row(SimpleNamespace(**dict(record)))


class PostgresTransactionStore(SqlTransactionStore):
    async def add(self, transaction: Transaction, audit: AuditEntry | None = None) -> None:
        async with postgres_connection(self._engine) as connection:
            trail = () if audit is None else append_values(audit, transaction.created_at)
            await connection.execute(
                INSERT_WITH_TRAIL if trail else INSERT,
                transaction.transaction_id,
                transaction.verifier_id,
                transaction.request_id,
                transaction.purpose,
                json_dumps(transaction.dcql_query),
                transaction.nonce,
                transaction.state,
                transaction.response_mode,
                transaction.same_device,
                transaction.client_id,
                transaction.status.value,
                transaction.created_at,
                transaction.expires_at,
                json_dumps(transaction.extra),
                *trail,
            )

    async def get(self, verifier_id: str, transaction_id: str) -> Transaction | None:
        async with postgres_connection(self._engine) as connection:
            record = await connection.fetchrow(BY_ID, transaction_id, verifier_id)
        return _transaction(record) if record is not None else None

    async def by_request_id(self, request_id: str) -> Transaction | None:
        async with postgres_connection(self._engine) as connection:
            record = await connection.fetchrow(BY_REQUEST, request_id)
        return _transaction(record) if record is not None else None

    async def mark_request_fetched(
        self, verifier_id: str, request_id: str, now: float, wallet_nonce: str | None
    ) -> Transaction | None:
        async with postgres_connection(self._engine) as connection:
            record = await connection.fetchrow(
                MARK_FETCHED,
                request_id,
                now,
                TransactionState.REQUEST_FETCHED.value,
                wallet_nonce,
                _SERVED,
                verifier_id,
            )
        return _transaction(record) if record is not None else None

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
        values = (
            request_id,
            now,
            status.value,
            json_dumps(result),
            response_code_hash,
            TransactionState.REQUEST_FETCHED.value,
        )
        async with postgres_connection(self._engine) as connection:
            if audit is not None:
                done = await connection.fetchval(
                    COMPLETE_WITH_TRAIL, *values, *append_values(audit, now)
                )
                return done is not None
            tag = await connection.execute(COMPLETE, *values)
        changed: bool = tag == "UPDATE 1"
        return changed
