"""The endpoints of the agency's page where the citizen chooses how to prove who they are,
where the agency allows several ways (OpenID4VCI 1.0 §5): what the page shows, the choice
(the browser is sent on to the eID provider or to the page of a presentation during
issuance), and the way back to the wallet with ``access_denied`` (RFC 6749 §4.1.2.1, with
``iss`` of RFC 9207). The page itself is a screen (``web``); every endpoint here is bound
to the browser the authorization endpoint sent there (a cookie) and to one authorization
(the MAC'd ``state`` in the path).

A browser that reaches the choice or the cancel with an unknown or forged ``state`` is
shown a page in plain words (``opt["browser_problem"]``); API clients get the JSON error.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER

from core.errors import AccessDenied
from issuers.api.browser_binding import redirect_binding_browser
from issuers.api.requests import ISSUER_CONTEXT, known_agency
from issuers.api.sign_in_ways import open_way, to_wallet
from issuers.domain import SignInWay
from issuers.services.authorize import AuthorizationRedirect, denied_redirect
from issuers.services.cancel_sign_in import cancel_sign_in
from issuers.services.context import IssuerContext
from issuers.services.sign_in_choice import (
    ACTOR,
    BROWSER_COOKIE,
    KIND,
    PAGE_PATH,
    UNKNOWN,
    ChoicePage,
    choose_sign_in_way,
    sign_in_choice_view,
)
from issuers.services.sign_in_messages import SignInChoiceView

NO_STORE = {"Cache-Control": "no-store"}
MAX_STATE = 256
#: The page shown to a browser that reaches the choice with an unknown or forged state.
BROWSER_PROBLEM = {"browser_problem": "sign-in"}


def cookie_path(issuer_id: str) -> str:
    return f"/issuers/{issuer_id}/{PAGE_PATH}"


def to_choice_page(context: IssuerContext, issuer_id: str, page: ChoicePage) -> Redirect:
    """The browser sent to the choice, carrying the cookie that binds it to the browser
    (sent back only to the page and its endpoints)."""
    return redirect_binding_browser(
        context,
        page.url,
        cookie=BROWSER_COOKIE,
        value=page.browser_binding,
        path=cookie_path(issuer_id),
    )


class SignInChoiceController(Controller):
    path = "/issuers/{issuer_id:str}/sign-in/{choice:str}"
    tags = ["wallet-facing issuer protocol"]  # noqa: RUF012 - litestar reads a list
    dependencies = ISSUER_CONTEXT
    opt = {"rate_limit": "token"}  # noqa: RUF012 - litestar reads a dict

    @get(
        "/view",
        summary="What the page where the citizen chooses how to prove who they are shows",
        operation_id="getSignInChoice",
    )
    async def view(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        choice: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> Response[SignInChoiceView]:
        known_agency(context, issuer_id)
        view = await sign_in_choice_view(
            context,
            issuer_id,
            choice[:MAX_STATE],
            browser_binding=request.cookies.get(BROWSER_COOKIE),
        )
        return Response(view, headers=NO_STORE)

    @get(
        "/choose",
        summary="The citizen's choice: on to the eID provider or to the presentation page",
        description="Made once per authorization: a second choice opens no second way. "
        "A browser is shown a page in plain words for an unknown or forged choice.",
        operation_id="chooseSignInWay",
        status_code=HTTP_303_SEE_OTHER,
        response_description="A redirect to the way chosen (the national eID provider, or the "
        "agency's presentation page), with its browser-binding cookie; or to the wallet's "
        "redirect_uri with access_denied and iss when the choice cannot be made",
        opt=BROWSER_PROBLEM,
    )
    async def choose(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        choice: FromPath[str],
        way: FromQuery[SignInWay],
        request: Request[Any, Any, Any],
    ) -> Redirect:
        known_agency(context, issuer_id)
        chosen = await choose_sign_in_way(
            context,
            issuer_id,
            choice[:MAX_STATE],
            way,
            browser_binding=request.cookies.get(BROWSER_COOKIE),
        )
        if isinstance(chosen, AuthorizationRedirect):
            return to_wallet(chosen)
        try:
            return await open_way(context, chosen.authorization, chosen.way)
        except AccessDenied as denied:
            return to_wallet(denied_redirect(context, chosen.authorization, denied))

    @get(
        "/cancel",
        summary="The citizen cancels: back to the wallet with access_denied",
        operation_id="cancelSignInChoice",
        status_code=HTTP_303_SEE_OTHER,
        response_description="A redirect to the wallet's redirect_uri with access_denied and "
        "iss (the authorization ends)",
        opt=BROWSER_PROBLEM,
    )
    async def cancel(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        choice: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> Redirect:
        known_agency(context, issuer_id)
        answer = await cancel_sign_in(
            context,
            KIND,
            issuer_id,
            choice[:MAX_STATE],
            browser_binding=request.cookies.get(BROWSER_COOKIE),
            unknown=UNKNOWN,
            actor=ACTOR,
        )
        redirect = to_wallet(answer)
        redirect.delete_cookie(BROWSER_COOKIE, path=cookie_path(issuer_id))
        return redirect
