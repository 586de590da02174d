"""A browser that reaches one of the agencies' authorization endpoints with what the agency
cannot tie to a wallet's request (an unknown, used or expired ``request_uri``; an unknown
or forged ``state``) cannot be sent back to the wallet (RFC 6749 §4.1.2.1: the error is
answered, never redirected). Where the request prefers HTML (a browser's navigation), it
is shown a page in plain words (``web.pages.problem_page``) with the same status; API
clients keep the JSON error. An endpoint names its page in ``opt["browser_problem"]``
(one of ``web.pages.PROBLEM_KINDS``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from web.pages import PAGE_HEADERS, PROBLEM_KINDS, problem_page

OPT_KEY = "browser_problem"
#: The errors such a page explains: the request is not one the agency can tie to a wallet,
#: or it refused it without a wallet to tell.
EXPLAINED = frozenset({"invalid_request", "access_denied"})


def prefers_html(request: Request[Any, Any, Any]) -> bool:
    chosen = request.accept.best_match(["application/json", "text/html"], "application/json")
    return chosen == "text/html"


def browser_problem(
    request: Request[Any, Any, Any], error: str, status_code: int
) -> Response[str] | None:
    """The page for a browser, where the endpoint has one and the error is one it explains;
    None: answer as the API does."""
    if error not in EXPLAINED or request.scope.get("route_handler") is None:
        return None
    kind = request.route_handler.opt.get(OPT_KEY)
    if kind not in PROBLEM_KINDS or not prefers_html(request):
        return None
    return Response(
        problem_page(kind), status_code=status_code, media_type="text/html", headers=PAGE_HEADERS
    )
