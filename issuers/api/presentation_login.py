"""The authorization page's endpoints for presentation during issuance (OpenID4VCI 1.0 §5
around OpenID4VP 1.0): where the request to the citizen's wallet stands, its QR code, a
same-device request on demand, and the completion that sends the browser back to the
wallet with the code, or ``access_denied`` (RFC 6749 §4.1.2, RFC 9207 §2). The page itself
is a screen (``web``); every endpoint here is bound to the browser the authorization
endpoint sent there (a cookie) and to one authorization (the MAC'd ``state`` in the path).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER

from core.messages import to_plain
from core.qr import RecentQrCodes
from issuers.api.browser_binding import redirect_binding_browser
from issuers.api.requests import ISSUER_CONTEXT, known_agency
from issuers.services.cancel_sign_in import cancel_sign_in
from issuers.services.context import IssuerContext
from issuers.services.presentation_login import (
    ACTOR,
    BROWSER_COOKIE,
    KIND,
    PAGE_PATH,
    UNKNOWN,
    PresentationPage,
    ask_same_device,
    finish_presentation_login,
    page_url,
    presentation_login_view,
    qr_text,
)
from issuers.services.presentation_login_messages import PresentationLoginView, SameDeviceLink

NO_STORE = {"Cache-Control": "no-store"}
MAX_STATE = 256
#: A same-device response code (the verifier's are 43 characters).
MAX_RESPONSE_CODE = 256
_QR_CODES = RecentQrCodes(title="Scan with your wallet to show who you are")
#: The page shown to a browser that reaches the completion or the cancel with an unknown
#: or forged state (API clients get the JSON error).
BROWSER_PROBLEM = {"browser_problem": "identity-check"}


def cookie_path(issuer_id: str) -> str:
    return f"/issuers/{issuer_id}/{PAGE_PATH}"


def to_presentation_page(
    context: IssuerContext, issuer_id: str, page: PresentationPage
) -> Redirect:
    """The browser sent to the authorization page, carrying the cookie that binds the
    identity check to it (sent back only to the page and its endpoints)."""
    return redirect_binding_browser(
        context,
        page.url,
        cookie=BROWSER_COOKIE,
        value=page.browser_binding,
        path=cookie_path(issuer_id),
    )


def _to(url: str, parameters: dict[str, Any] | None = None) -> Redirect:
    if parameters:
        url = f"{url}{'&' if '?' in url else '?'}{urlencode(parameters)}"
    return Redirect(url, status_code=HTTP_303_SEE_OTHER, headers=NO_STORE)


class PresentationLoginController(Controller):
    path = "/issuers/{issuer_id:str}/presentation-login/{login:str}"
    tags = ["wallet-facing issuer protocol"]  # noqa: RUF012 - litestar reads a list
    dependencies = ISSUER_CONTEXT
    opt = {"rate_limit": "token"}  # noqa: RUF012 - litestar reads a dict

    @get(
        "/status",
        summary="Where the citizen's presentation during issuance stands (the page polls it)",
        operation_id="getPresentationLoginStatus",
    )
    async def status(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        login: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> Response[PresentationLoginView]:
        known_agency(context, issuer_id)
        view = await presentation_login_view(
            context,
            issuer_id,
            login[:MAX_STATE],
            browser_binding=request.cookies.get(BROWSER_COOKIE),
        )
        return Response(view, headers=NO_STORE)

    @get(
        "/qr.svg",
        summary="The request to the citizen's wallet as a QR code (SVG)",
        operation_id="getPresentationLoginQrSvg",
        media_type="image/svg+xml",
    )
    async def qr_svg(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        login: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> Response[str]:
        known_agency(context, issuer_id)
        uri, transaction_id = await qr_text(
            context,
            issuer_id,
            login[:MAX_STATE],
            browser_binding=request.cookies.get(BROWSER_COOKIE),
        )
        code = _QR_CODES.get(transaction_id, uri)
        return Response(code.svg, media_type="image/svg+xml", headers=NO_STORE)

    @post(
        "/same-device",
        summary="A request for a wallet on this device instead of the QR code",
        operation_id="askSameDevicePresentationLogin",
        status_code=HTTP_200_OK,
    )
    async def same_device(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        login: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> Response[SameDeviceLink]:
        known_agency(context, issuer_id)
        link = await ask_same_device(
            context,
            issuer_id,
            login[:MAX_STATE],
            browser_binding=request.cookies.get(BROWSER_COOKIE),
        )
        return Response(link, headers=NO_STORE)

    @get(
        "/complete",
        summary="The presentation's outcome: back to the wallet with the code, or the error",
        operation_id="completePresentationLogin",
        status_code=HTTP_303_SEE_OTHER,
        opt=BROWSER_PROBLEM,
        response_description="A redirect to the wallet's redirect_uri with code, state and "
        "iss, or access_denied and iss when the presentation did not identify exactly one "
        "citizen of the agency's register; back to the page while the wallet has not answered",
    )
    async def complete(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        login: FromPath[str],
        request: Request[Any, Any, Any],
        response_code: FromQuery[str | None] = None,
    ) -> Redirect:
        agency = known_agency(context, issuer_id)
        answer = await finish_presentation_login(
            context,
            issuer_id,
            login[:MAX_STATE],
            browser_binding=request.cookies.get(BROWSER_COOKIE),
            response_code=None if response_code is None else response_code[:MAX_RESPONSE_CODE],
        )
        if answer is None:  # not answered yet: the page keeps waiting
            return _to(page_url(context, agency, login[:MAX_STATE]))
        redirect = _to(answer.redirect_uri, to_plain(answer.answer))
        redirect.delete_cookie(BROWSER_COOKIE, path=cookie_path(issuer_id))
        return redirect

    @get(
        "/cancel",
        summary="The citizen cancels the identity check: back to the wallet with access_denied",
        operation_id="cancelPresentationLogin",
        status_code=HTTP_303_SEE_OTHER,
        response_description="A redirect to the wallet's redirect_uri with access_denied and "
        "iss (the authorization ends)",
        opt=BROWSER_PROBLEM,
    )
    async def cancel(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        login: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> Redirect:
        known_agency(context, issuer_id)
        answer = await cancel_sign_in(
            context,
            KIND,
            issuer_id,
            login[:MAX_STATE],
            browser_binding=request.cookies.get(BROWSER_COOKIE),
            unknown=UNKNOWN,
            actor=ACTOR,
        )
        redirect = _to(answer.redirect_uri, to_plain(answer.answer))
        redirect.delete_cookie(BROWSER_COOKIE, path=cookie_path(issuer_id))
        return redirect
