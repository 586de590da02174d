"""Sending the citizen's browser on: to the way chosen to prove who they are (the national
eID provider, or the agency's page for a presentation during issuance), each with the
cookie that binds it to this browser; or back to the wallet with the answer (RFC 6749
§4.1.2, with ``iss`` of RFC 9207)."""

from __future__ import annotations

from urllib.parse import urlencode

from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER

from core.messages import to_plain
from issuers.api.browser_binding import redirect_binding_browser
from issuers.api.presentation_login import to_presentation_page
from issuers.domain import Authorization, SignInWay
from issuers.services.authorize import AuthorizationRedirect
from issuers.services.context import IssuerContext
from issuers.services.eid_login import (
    BROWSER_COOKIE,
    CALLBACK_PATH,
    EidRedirect,
    begin_eid_login,
)
from issuers.services.presentation_login import begin_presentation_login

NO_STORE = {"Cache-Control": "no-store"}


def to_wallet(answer: AuthorizationRedirect) -> Redirect:
    """The wallet's redirect URI with the answer as query parameters (RFC 6749 §4.1.2),
    after any query it already has (§3.1.2)."""
    joiner = "&" if "?" in answer.redirect_uri else "?"
    return Redirect(
        f"{answer.redirect_uri}{joiner}{urlencode(to_plain(answer.answer))}",
        status_code=HTTP_303_SEE_OTHER,
        headers=NO_STORE,
    )


def eid_cookie_path(issuer_id: str) -> str:
    return f"/issuers/{issuer_id}/{CALLBACK_PATH}"


def to_eid_provider(context: IssuerContext, issuer_id: str, login: EidRedirect) -> Redirect:
    """The browser sent to the provider, carrying the cookie that binds the login to it
    (sent back only to this agency's callback; SameSite=Lax, so the provider's redirect,
    a top-level navigation, brings it along)."""
    return redirect_binding_browser(
        context,
        login.url,
        cookie=BROWSER_COOKIE,
        value=login.browser_binding,
        path=eid_cookie_path(issuer_id),
    )


async def open_way(
    context: IssuerContext, authorization: Authorization, way: SignInWay
) -> Redirect:
    """The browser sent on to ``way`` for an ``authenticating`` authorization; raises
    ``AccessDenied`` (the authorization refused) where the way cannot be started."""
    if way is SignInWay.EID_LOGIN:
        login = await begin_eid_login(context, authorization)
        return to_eid_provider(context, authorization.issuer_id, login)
    page = await begin_presentation_login(context, authorization)
    return to_presentation_page(context, authorization.issuer_id, page)
