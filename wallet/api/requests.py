"""What every mobile endpoint shares: the wallet context, the citizen's session (a guard),
the bound on bodies, the citizen's languages."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.datastructures import State

from core.language import parse_accept_language
from wallet.services.context import WalletContext
from wallet.services.sessions import Session, authenticate

#: The largest body the mobile API reads (each controller's ``request_max_body_size``).
MAX_BODY = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}


def wallet_context(state: State) -> WalletContext:
    context: WalletContext = state.wallet
    return context


async def require_citizen_session(request: Request[Any, Any, Any]) -> None:
    """Before the request (ahead of reading the body): the citizen's session is checked
    (``invalid_token``, RFC 6750 §3.1) and kept for the handler."""
    context = wallet_context(request.app.state)
    request.state.citizen_session = await authenticate(
        context, request.headers.get("authorization")
    )


async def session_of(
    state: State, request: Request[Any, Any, Any]
) -> tuple[WalletContext, Session]:
    context = wallet_context(state)
    session = getattr(request.state, "citizen_session", None)
    if isinstance(session, Session):
        return context, session
    return context, await authenticate(context, request.headers.get("authorization"))


def languages(request: Request[Any, Any, Any]) -> list[str]:
    return parse_accept_language(request.headers.get("accept-language"))


def private(body: Any, status_code: int = 200) -> Response[Any]:
    """Everything the mobile API answers is the citizen's own: never cached."""
    return Response(body, status_code=status_code, headers=NO_STORE)
