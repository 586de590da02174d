"""What every mobile endpoint shares: the wallet context, the citizen's session, a
strictly parsed and bounded JSON body, the citizen's languages."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers.base import BaseRouteHandler

from core.encoding import StrictJsonError, strict_json_object
from core.errors import InvalidRequest, PayloadTooLarge
from core.language import parse_accept_language
from wallet.services.context import WalletContext
from wallet.services.sessions import Session, authenticate

MAX_BODY = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}


def wallet_context(state: State) -> WalletContext:
    context: WalletContext = state.wallet
    return context


async def require_citizen_session(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: the citizen's session is checked before anything else of the request is
    read (``invalid_token``, RFC 6750 §3.1), and kept for the handler."""
    context = wallet_context(connection.app.state)
    connection.state.citizen_session = await authenticate(
        context, connection.headers.get("authorization")
    )


async def session_of(
    state: State, request: Request[Any, Any, Any]
) -> tuple[WalletContext, Session]:
    context = wallet_context(state)
    session = getattr(request.state, "citizen_session", None)
    if isinstance(session, Session):
        return context, session
    return context, await authenticate(context, request.headers.get("authorization"))


async def json_body(request: Request[Any, Any, Any], *, optional: bool = False) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY} bytes")
    if optional and not body.strip():
        return {}
    try:
        return strict_json_object(body, max_bytes=MAX_BODY)
    except StrictJsonError as exc:
        raise InvalidRequest(f"the body is not acceptable JSON: {exc}") from exc


def languages(request: Request[Any, Any, Any]) -> list[str]:
    return parse_accept_language(request.headers.get("accept-language"))


def private(body: Any, status_code: int = 200) -> Response[Any]:
    """Everything the mobile API answers is the citizen's own: never cached."""
    return Response(body, status_code=status_code, headers=NO_STORE)
