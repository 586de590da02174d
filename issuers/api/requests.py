"""What the wallet-facing endpoints share: body size limits, entity tags, and the access
token and DPoP headers of protected requests (RFC 6750 §2.1, RFC 9449 §7: header only; a
token in the query is refused, RFC 6750 §2.3 is not offered)."""

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
from issuers.services.sender_constraint import ProtectedRequest, check_token_header

MAX_FORM_BYTES = 8 * 1024
MAX_JSON_BYTES = 128 * 1024


def etag_matches(request: Request[Any, Any, Any], etag: str) -> bool:
    """RFC 9110 §13.1.2 ``If-None-Match``: ``*`` or a list of entity tags, compared weakly."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag.removeprefix("W/") in tags


def protected_request(request: ASGIConnection[Any, Any, Any, Any]) -> ProtectedRequest:
    """The access token and DPoP proof headers of a request to a protected endpoint
    (RFC 6750 §2.1, RFC 9449 §7.1); a token in the query is refused (RFC 6750 §2.3 is not
    offered)."""
    if "access_token" in request.query_params:
        raise InvalidToken("send the access token in the Authorization header")
    return ProtectedRequest(
        authorization=tuple(request.headers.getall("authorization", [])),
        dpop=tuple(request.headers.getall("dpop", [])),
    )


async def require_access_token(request: Request[Any, Any, Any]) -> None:
    """Before the request (ahead of reading the body): the access token comes first
    (RFC 6750 §3.1)."""
    check_token_header(protected_request(request))


async def _protected_request(request: Request[Any, Any, Any]) -> ProtectedRequest:
    return protected_request(request)


#: ``access: ProtectedRequest`` for handlers guarded by ``require_access_token``.
ACCESS_TOKEN = {"access": Provide(_protected_request)}


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
