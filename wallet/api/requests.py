"""What every mobile endpoint shares: the wallet context and the citizen's session (checked
before the body is read, then injected), the bound on bodies, the citizen's languages."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.datastructures import State
from litestar.di import Provide

from core.language import parse_accept_language
from wallet.services.context import WalletContext
from wallet.services.mediation_sessions import is_mediation_token, mediated_session
from wallet.services.sessions import Session, authenticate

#: The largest body the mobile API reads (each controller's ``request_max_body_size``).
MAX_BODY = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}


def wallet_context(state: State) -> WalletContext:
    context: WalletContext = state.wallet
    return context


async def _checked_session(request: Request[Any, Any, Any]) -> Session:
    context = wallet_context(request.app.state)
    authorization = request.headers.get("authorization")
    if is_mediation_token(authorization):
        handler = request.route_handler
        operation = handler.operation_id if isinstance(handler.operation_id, str) else None
        return await mediated_session(
            context,
            str(authorization),
            action=handler.opt.get("mediation"),
            operation=operation or handler.handler_name,
            seen=handler.opt.get("mediation_seen"),
        )
    return await authenticate(context, authorization)


async def require_citizen_session(request: Request[Any, Any, Any]) -> None:
    """Before the request (ahead of reading the body): the citizen's session is checked
    (``invalid_token``, RFC 6750 §3.1) and kept for the handler. A mediator's token
    (docs/mediators.md) passes only where the operation names a mediation action."""
    request.state.citizen_session = await _checked_session(request)


async def citizen_session(request: Request[Any, Any, Any]) -> Session:
    """The session ``require_citizen_session`` checked, injected as ``session``."""
    session = getattr(request.state, "citizen_session", None)
    if isinstance(session, Session):
        return session
    return await _checked_session(request)


#: What the mobile API's handlers are given: the wallet's context and, where a citizen
#: must be signed in, the session checked before the body was read.
WALLET_DEPENDENCIES = {
    "context": Provide(wallet_context, sync_to_thread=False),
    "session": Provide(citizen_session),
}


def languages(request: Request[Any, Any, Any]) -> list[str]:
    return parse_accept_language(request.headers.get("accept-language"))


def private(body: Any, status_code: int = 200) -> Response[Any]:
    """Everything the mobile API answers is the citizen's own: never cached."""
    return Response(body, status_code=status_code, headers=NO_STORE)
