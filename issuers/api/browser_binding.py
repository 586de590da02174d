"""Sending the citizen's browser on with the cookie that binds an authorization's login
(the eID login, a presentation during issuance) to that browser: HttpOnly, Secure on an
https deployment, sent back only under ``path``, SameSite=Lax so that a top-level
navigation back (the eID provider's redirect, the wallet's) brings it along, and no
longer than the authorization may wait for the citizen."""

from __future__ import annotations

from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER

from issuers.services.context import IssuerContext

NO_STORE = {"Cache-Control": "no-store"}


def redirect_binding_browser(
    context: IssuerContext, url: str, *, cookie: str, value: str, path: str
) -> Redirect:
    redirect = Redirect(url, status_code=HTTP_303_SEE_OTHER, headers=NO_STORE)
    redirect.set_cookie(
        cookie,
        value,
        path=path,
        max_age=int(context.policy.authentication_lifetime),
        httponly=True,
        secure=context.public_base_url.startswith("https://"),
        samesite="lax",
    )
    return redirect
