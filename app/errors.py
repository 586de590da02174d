"""Error rendering: protocol errors as OAuth error JSON (RFC 6749 §5.2) with
``Cache-Control: no-store``; anything unexpected as a generic 500 without internals.

Unexpected errors are logged by type and place (the traceback's frames), never with their
message: messages of database and parsing errors quote the values involved (a citizen's
name in a constraint's DETAIL, a token in a parse error)."""

from __future__ import annotations

import logging
import traceback
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.browser_problems import browser_problem
from app.observability import count_protocol_failure
from app.refusal_audit import append_after_answer
from app.typed_bodies import body_rejection
from core.dpop import DPOP_ALGORITHMS
from core.errors import AccessTokenMissing, Problem, ProtocolError, UseDpopNonce
from core.storage.driver import (
    DISK_FULL,
    UNSTORABLE_TEXT,
    database_went_away,
    storage_fault,
)

log = logging.getLogger("idwallet.errors")
NO_STORE = {"Cache-Control": "no-store"}
DPOP_ALGS = f'algs="{" ".join(sorted(DPOP_ALGORITHMS))}"'


def protocol_error(request: Request[Any, Any, Any], exc: ProtocolError) -> Response[Any]:
    log.info("protocol error %s: %s", exc.error, exc.detail)
    count_protocol_failure(exc.error)
    page = browser_problem(request, exc.error, exc.status_code)
    if page is not None:
        return page
    headers = dict(NO_STORE)
    if isinstance(exc, AccessTokenMissing):
        headers["WWW-Authenticate"] = f"Bearer, DPoP {DPOP_ALGS}"
    elif exc.status_code == 401:
        # RFC 6750 §3 for bearer tokens; RFC 9449 §7.1 for DPoP-bound ones, with the
        # algorithms the proofs may use
        challenge = f'{exc.challenge_scheme} error="{exc.error}"'
        if exc.challenge_scheme == "DPoP":
            challenge += f", {DPOP_ALGS}"
        headers["WWW-Authenticate"] = challenge
    if isinstance(exc, UseDpopNonce):
        # RFC 9449 §8, §9: the nonce the next proof must carry
        headers["DPoP-Nonce"] = exc.dpop_nonce
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return Response(
        exc.to_body(),
        status_code=exc.status_code,
        headers=headers,
        background=append_after_answer(request, exc.error),
    )


def validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """A request the framework could not convert: refused by the handler's declared message
    in its family's format where it declares one, else as ``invalid_request``; described in
    our words (which parameter), never in the framework's."""
    page = browser_problem(request, "invalid_request", 400)
    if page is not None:
        return page
    description = _what_is_malformed(exc)
    rejection = body_rejection(request.route_handler, description)
    if rejection is None and request.route_handler.opt.get("problem_details"):
        rejection = Problem(400, "Bad Request", description)
    if isinstance(rejection, ProtocolError):
        return protocol_error(request, rejection)
    if isinstance(rejection, Problem):
        return problem(request, rejection)
    body = {"error": "invalid_request", "error_description": description}
    return Response(body, status_code=400, headers=NO_STORE)


def _what_is_malformed(exc: ValidationException) -> str:
    keys: list[str] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        key = item.get("key") if isinstance(item, dict) else None
        if isinstance(key, str) and key.isprintable() and len(key) <= 64:
            keys.append(key if item.get("source") != "body" else f"body member {key}")
    if not keys:
        return "the request is malformed"
    return "malformed or missing: " + ", ".join(dict.fromkeys(keys))


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """The framework's own refusals (no such route, a body over the limit, a method not
    allowed) in the family's format of the endpoint, in our words where the framework's
    would be its own."""
    description = "the request body is too large" if exc.status_code == 413 else str(exc.detail)
    headers = {**NO_STORE, **(exc.headers or {})}
    if request.scope.get("route_handler") is not None and request.route_handler.opt.get(
        "problem_details"
    ):
        title = HTTPStatus(exc.status_code).phrase
        reply = problem(request, Problem(exc.status_code, title, description))
        reply.headers.update(headers)
        return reply
    code = "invalid_request" if exc.status_code < 500 else "server_error"
    body = {"error": code, "error_description": description}
    return Response(body, status_code=exc.status_code, headers=headers)


def unexpected_error(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
    log.error(
        "unexpected %s\n%s", _error_types(exc), "".join(traceback.format_tb(exc.__traceback__))
    )
    body = {"error": "server_error", "error_description": "internal error"}
    return Response(body, status_code=HTTP_500_INTERNAL_SERVER_ERROR, headers=NO_STORE)


def problem(_: Request[Any, Any, Any], exc: Problem) -> Response[dict[str, object]]:
    """Operator endpoints: problem details (RFC 9457)."""
    return Response(
        exc.to_body(),
        status_code=exc.status,
        media_type="application/problem+json",
        headers={"Cache-Control": "no-store"},
    )


def _error_types(exc: BaseException) -> str:
    """``DBAPIError <- CharacterNotInRepertoireError (SQLSTATE 22021)``: the chain of
    types, with SQLSTATEs, and no message."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(parts) < 6:
        state = getattr(seen, "sqlstate", None)
        parts.append(type(seen).__name__ + (f" (SQLSTATE {state})" if state else ""))
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return " <- ".join(parts)


def database_unavailable(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, str]]:
    """A database error: text it cannot store is the caller's fault (400); a full disk
    and a database that went away (restart, failover, network) are 503 with Retry-After,
    each named as what it is. SQLAlchemy has already dropped broken connections, so the
    pool recovers by itself and the client's retry lands on a fresh connection."""
    fault = storage_fault(exc)
    if fault == UNSTORABLE_TEXT:
        body = {
            "error": "invalid_request",
            "error_description": "the request holds characters that cannot be stored",
        }
        return Response(body, status_code=400, headers=NO_STORE)
    if fault == DISK_FULL:
        log.error("the database cannot write: its disk is full")
        health = getattr(request.app.state, "storage_health", None)
        if health is not None:
            health.write_failed()
        body = {
            "error": "temporarily_unavailable",
            "error_description": "the database cannot store data (its disk is full); retry later",
        }
        return Response(body, status_code=503, headers={**NO_STORE, "Retry-After": "30"})
    away = (
        isinstance(exc, ConnectionError | PoolTimeout)
        or database_went_away(exc)
        or (
            isinstance(exc, DBAPIError)
            and (exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError))
        )
    )
    if not away:
        return unexpected_error(request, exc)
    log.warning("database unavailable: %s", type(exc).__name__)
    body = {
        "error": "temporarily_unavailable",
        "error_description": "the database is not reachable, retry shortly",
    }
    return Response(body, status_code=503, headers={**NO_STORE, "Retry-After": "1"})
