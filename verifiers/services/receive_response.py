"""The Response URI (OpenID4VP 1.0 §8.2 ``direct_post``, §8.3.1 ``direct_post.jwt``).

The wallet posts ``vp_token`` and ``state`` form-encoded, or ``response``: a JWE
(ECDH-ES on the transaction's own key, A128GCM or A256GCM) whose payload carries them.
An error response (§8.5: ``error`` with ``state``) ends the transaction as failed.

- Only an answer carrying the transaction's ``state`` can touch the transaction: anything
  else is refused without changing it, so a stranger who saw the QR code cannot spoil a
  citizen's check. The ``state`` is consumed by the single conditional update that records
  the result: a second answer, or the same one replayed, is refused and the first result
  stays (V19).
- A presentation that fails a check is answered 400 ``invalid_request`` on that very
  response and the transaction shows ``failed`` with the reason; a valid one gets 200,
  with a ``redirect_uri`` carrying a fresh ``response_code`` in the same-device flow
  (§8.2, §13.3).
- The answer moves the transaction from ``request_fetched`` to ``verified`` or ``failed``,
  a move checked against ``TRANSACTION_MOVES`` before anything is written.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from core.encoding import StrictJsonError, strict_json_object
from core.errors import InvalidRequest
from core.jose.errors import JoseError
from core.jose.jwe import decrypt_compact, read_header
from core.messages import to_plain
from core.oid4vp import AuthorizationResponse, ResponseUriAnswer
from verifiers.domain import TRANSACTION_MOVES, Transaction, TransactionState
from verifiers.services.audit_facts import answered_entry, wallet_outcome
from verifiers.services.context import VerifierContext
from verifiers.services.response_keys import response_key_id, response_private_key
from verifiers.services.validate_presentation import (
    PresentationOutcome,
    PresentationValidator,
    vp_token_of,
)

MAX_RESPONSE_JWE_BYTES = 600 * 1024


class PresentationRejected(InvalidRequest):
    """The presentation failed a check (400 ``invalid_request``); the transaction failed."""


def _decrypt(context: VerifierContext, transaction: Transaction, response: str) -> dict[str, Any]:
    if len(response) > MAX_RESPONSE_JWE_BYTES:
        raise InvalidRequest("the encrypted response is too large")
    try:
        header = read_header(response, max_bytes=MAX_RESPONSE_JWE_BYTES)
        kid = header.get("kid")
        if kid is not None and kid != response_key_id(transaction.request_id):
            raise InvalidRequest("the response is encrypted to another key")
        _, plaintext = decrypt_compact(
            response,
            response_private_key(context.secret, transaction.request_id),
            max_bytes=MAX_RESPONSE_JWE_BYTES,
        )
        return strict_json_object(plaintext, max_bytes=MAX_RESPONSE_JWE_BYTES)
    except (JoseError, StrictJsonError) as exc:
        raise InvalidRequest(f"the encrypted response cannot be read: {exc}") from exc


def _parameters(
    context: VerifierContext, transaction: Transaction, posted: AuthorizationResponse
) -> Mapping[str, Any]:
    """The response parameters, from the form or from inside the JWE (§8.3.1)."""
    form = to_plain(posted)
    response = form.get("response")
    if transaction.response_mode == "direct_post.jwt":
        if response is None:
            if "error" in form:
                return {name: form.get(name) for name in ("error", "error_description", "state")}
            raise InvalidRequest("this transaction expects an encrypted response")
        return _decrypt(context, transaction, response)
    if response is not None:
        raise InvalidRequest("this transaction expects a form-encoded response, not a JWE")
    return {name: form.get(name) for name in ("vp_token", "state", "error", "error_description")}


def _same_state(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())


async def record_answer(
    context: VerifierContext,
    transaction: Transaction,
    current: TransactionState,
    outcome: TransactionState,
    *,
    result: dict[str, Any],
    response_code_hash: str | None,
    audited: str,
) -> bool:
    """Move the transaction from ``current`` to ``outcome`` with its result, once, and
    its ``presentation.answered`` trail entry (outcome ``audited``) with it:
    ``IllegalMove`` (nothing written) when ``TRANSACTION_MOVES`` does not list the move,
    False when another answer got there first or the request expired meanwhile."""
    TRANSACTION_MOVES.check(current, outcome)
    return await context.transactions.complete(
        transaction.request_id,
        status=outcome,
        result=result,
        now=context.clock.now(),
        response_code_hash=response_code_hash,
        audit=answered_entry(context, transaction, audited),
    )


async def receive_response(
    context: VerifierContext,
    validator: PresentationValidator,
    verifier_id: str,
    request_id: str,
    posted: AuthorizationResponse,
) -> ResponseUriAnswer:
    context.party(verifier_id)
    transaction = await context.transactions.by_request_id(request_id)
    if transaction is None or transaction.verifier_id != verifier_id:
        raise InvalidRequest("no such presentation request")
    current = transaction.effective_status(context.clock.now())
    if current is not TransactionState.REQUEST_FETCHED:
        raise InvalidRequest("this presentation request is not waiting for an answer")
    parameters = _parameters(context, transaction, posted)
    if not _same_state(transaction.state, parameters.get("state")):
        raise InvalidRequest("state does not belong to this presentation request")
    error = parameters.get("error")
    if error is not None:
        description = parameters.get("error_description")
        result = {
            "error": f"the wallet declined: {str(error)[:64]}",
            "wallet_error": str(error)[:64],
            **({"wallet_error_description": str(description)[:256]} if description else {}),
            "checks": [],
        }
        if not await record_answer(
            context,
            transaction,
            current,
            TransactionState.FAILED,
            result=result,
            response_code_hash=None,
            audited=wallet_outcome(error),
        ):
            raise InvalidRequest("this presentation request is not waiting for an answer")
        return ResponseUriAnswer()
    vp_token = parameters.get("vp_token")
    if isinstance(vp_token, dict):
        vp_token = vp_token_of(parameters)
    if not isinstance(vp_token, str) or not vp_token:
        raise InvalidRequest("vp_token is required")
    outcome: PresentationOutcome = await validator.validate(transaction, vp_token)
    response_code = None
    if outcome.verified and transaction.same_device:
        response_code = secrets.token_urlsafe(32)
    code_hash = hashlib.sha256(response_code.encode()).hexdigest() if response_code else None
    recorded = await record_answer(
        context,
        transaction,
        current,
        TransactionState.VERIFIED if outcome.verified else TransactionState.FAILED,
        result=outcome.to_result(),
        response_code_hash=code_hash,
        audited="ok" if outcome.verified else "invalid_request",
    )
    if not recorded:
        raise InvalidRequest("this presentation request was answered already")
    if not outcome.verified:
        raise PresentationRejected(outcome.error or "the presentation is not valid")
    if response_code is None:
        return ResponseUriAnswer()
    landing = transaction.extra.get("redirect_uri")
    if not isinstance(landing, str):  # the verifier's own landing page
        base = f"{context.base(verifier_id)}/presentations/{transaction.transaction_id}"
        landing = f"{base}/same-device"
    redirect = f"{landing}#response_code={response_code}"
    return ResponseUriAnswer(redirect_uri=redirect)
