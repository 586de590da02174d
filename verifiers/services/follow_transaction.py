"""What the counter sees of a transaction: its status and, once answered, the result;
and the same-device release of that result to the session that started it (OpenID4VP
1.0 §13.3: the ``response_code`` from the redirect, once, with the session's token)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator

import msgspec
from msgspec import UNSET

from core.clock import rfc3339
from core.errors import Problem
from verifiers.domain import FINAL_STATES, Transaction
from verifiers.services.context import VerifierContext
from verifiers.services.request_messages import PresentationStatus, VerificationResult

POLL_SECONDS = 0.25
MAX_FOLLOW_SECONDS = 900.0


def _time(at: float | None) -> str | None:
    return None if at is None else rfc3339(at)


def transaction_view(transaction: Transaction, now: float) -> PresentationStatus:
    return PresentationStatus(
        transaction_id=transaction.transaction_id,
        verifier_id=transaction.verifier_id,
        status=transaction.effective_status(now),
        purpose=transaction.purpose,
        response_mode=transaction.response_mode,
        same_device=transaction.same_device,
        created_at=_time(transaction.created_at),
        expires_at=_time(transaction.expires_at),
        request_fetched_at=_time(transaction.request_fetched_at),
        completed_at=_time(transaction.completed_at),
        dcql_query=transaction.dcql_query,
        result=UNSET
        if transaction.result is None
        else msgspec.convert(transaction.result, VerificationResult),
    )


async def find_transaction(
    context: VerifierContext, verifier_id: str, transaction_id: str
) -> Transaction:
    found = (
        await context.transactions.get(verifier_id, transaction_id)
        if len(transaction_id) <= 64
        else None
    )
    if found is None:
        raise Problem(404, "Not Found", "no such presentation request (or it was purged)")
    return found


async def follow(
    context: VerifierContext, verifier_id: str, transaction_id: str
) -> AsyncIterator[PresentationStatus]:
    """Every change of status until a final one (the database is polled, so any worker
    can serve the stream whichever worker received the wallet's answer)."""
    last = None
    waited = 0.0
    while waited < MAX_FOLLOW_SECONDS:
        transaction = await context.transactions.get(verifier_id, transaction_id)
        if transaction is None:
            return
        view = transaction_view(transaction, context.clock.now())
        if view.status != last:
            last = view.status
            yield view
        if last in FINAL_STATES:
            return
        await asyncio.sleep(POLL_SECONDS)
        waited += POLL_SECONDS


async def release_same_device_result(
    context: VerifierContext,
    verifier_id: str,
    transaction_id: str,
    *,
    response_code: str,
    session_token: str,
) -> PresentationStatus:
    refused = Problem(403, "Forbidden", "this response code is not valid for this session")
    if not response_code or len(response_code) > 128 or len(session_token) > 128:
        raise refused
    transaction = await find_transaction(context, verifier_id, transaction_id)
    expected = transaction.extra.get("session_token_hash")
    given = hashlib.sha256(session_token.encode()).hexdigest()
    if not isinstance(expected, str) or not hmac.compare_digest(expected, given):
        raise refused
    code_hash = hashlib.sha256(response_code.encode()).hexdigest()
    released = await context.transactions.release_result(verifier_id, transaction_id, code_hash)
    if released is None:
        raise refused
    return transaction_view(released, context.clock.now())
