"""Error rendering: protocol errors as OAuth error JSON (RFC 6749 §5.2) with
``Cache-Control: no-store``; anything unexpected as a generic 500 without internals."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from app.observability import count_protocol_failure
from core.errors import Problem, ProtocolError
from core.storage.driver import database_went_away

log = logging.getLogger("idwallet.errors")
NO_STORE = {"Cache-Control": "no-store"}


def protocol_error(_: Request[Any, Any, Any], exc: ProtocolError) -> Response[dict[str, str]]:
    log.info("protocol error %s: %s", exc.error, exc.detail)
    count_protocol_failure(exc.error)
    headers = dict(NO_STORE)
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = f'Bearer error="{exc.error}"'
    return Response(exc.to_body(), status_code=exc.status_code, headers=headers)


def validation_error(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, str]]:
    body = {"error": "invalid_request", "error_description": "the request is malformed"}
    return Response(body, status_code=400, headers=NO_STORE)


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, str]]:
    code = "invalid_request" if exc.status_code < 500 else "server_error"
    body = {"error": code, "error_description": str(exc.detail)}
    return Response(body, status_code=exc.status_code, headers={**NO_STORE, **(exc.headers or {})})


def unexpected_error(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
    log.error("unexpected %s", type(exc).__name__, exc_info=exc)
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


def database_unavailable(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
    """The database went away under a request (restart, failover, network): 503 with
    Retry-After. SQLAlchemy has already dropped the broken connections, so the pool
    recovers by itself and the client's retry lands on a fresh connection."""
    if isinstance(exc, DBAPIError) and not (
        exc.connection_invalidated
        or isinstance(exc, OperationalError | InterfaceError)
        or database_went_away(exc)
    ):
        return unexpected_error(_, exc)
    log.warning("database unavailable: %s", type(exc).__name__)
    body = {
        "error": "temporarily_unavailable",
        "error_description": "the database is not reachable, retry shortly",
    }
    return Response(body, status_code=503, headers={**NO_STORE, "Retry-After": "1"})
