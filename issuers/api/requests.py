"""What the wallet-facing endpoints share: body size limits, entity tags, and bearer
tokens (RFC 6750 §2.1 header only; a token in the query is refused, §2.3 is not offered)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotFoundException

from core.errors import InvalidToken
from issuers.domain import Agency
from issuers.services.context import IssuerContext, UnknownAgency

MAX_FORM_BYTES = 8 * 1024
MAX_JSON_BYTES = 128 * 1024


def etag_matches(request: Request[Any, Any, Any], etag: str) -> bool:
    """RFC 9110 §13.1.2 ``If-None-Match``: ``*`` or a list of entity tags, compared weakly."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag.removeprefix("W/") in tags


def bearer_token(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    if "access_token" in request.query_params:
        raise InvalidToken("send the access token in the Authorization header")
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        raise InvalidToken("a bearer access token is required")
    return token


async def require_bearer_token(request: Request[Any, Any, Any]) -> None:
    """Before the request (ahead of reading the body): the access token comes first
    (RFC 6750 §3.1)."""
    bearer_token(request)


async def _access_token(request: Request[Any, Any, Any]) -> str:
    return bearer_token(request)


#: ``access_token: str`` for handlers guarded by ``require_bearer_token``.
ACCESS_TOKEN = {"access_token": Provide(_access_token)}


def issuer_context(state: State) -> IssuerContext:
    """The agencies' context, injected into the issuer role's handlers as ``context``."""
    context: IssuerContext = state.issuers
    return context


#: ``context: NamedDependency[IssuerContext]`` for every handler of the issuer role.
ISSUER_CONTEXT = {"context": Provide(issuer_context, sync_to_thread=False)}


def known_agency(context: IssuerContext, issuer_id: str) -> Agency:
    """The agency; 404, like any unknown path, for one the deployment does not have."""
    try:
        return context.agency(issuer_id)
    except UnknownAgency:
        raise NotFoundException("no such credential issuer") from None
