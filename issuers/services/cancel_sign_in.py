"""The citizen cancels at one of the agency's authorization pages (the choice of a way, the
page of a presentation during issuance): the authorization ends without a code, the
wallet is told ``access_denied`` (RFC 6749 §4.1.2.1) with ``iss``, and the audit trail
records ``authorization.refuse`` with the reason ``cancelled``. The page's ``state`` (of
the page's ``kind``, ``browser_logins``) names the authorization; a cancel from another
browser ends it too (``session_mismatch``), and one of an ended authorization changes
nothing."""

from __future__ import annotations

from core.errors import AccessDenied
from issuers.domain import AuthorizationState
from issuers.services.authorize import (
    AuthorizationRedirect,
    denied_redirect,
    refuse_authorization,
)
from issuers.services.browser_logins import audit_refusal, authorization_named, same_browser
from issuers.services.context import IssuerContext

#: An authorization in one of these states may still be cancelled.
LIVE = frozenset({AuthorizationState.CHOOSING, AuthorizationState.AUTHENTICATING})

#: What the wallet is told, by the reason.
REFUSALS = {
    "cancelled": "the citizen cancelled at the agency's page",
    "session_mismatch": "the sign-in was started in another browser or session",
    "login_ended": "this sign-in has ended already",
}


async def cancel_sign_in(
    context: IssuerContext,
    kind: str,
    issuer_id: str,
    state: str,
    *,
    browser_binding: str | None,
    unknown: str,
    actor: str,
) -> AuthorizationRedirect:
    """End the authorization a page of ``kind`` names, if it is still live; where the
    browser goes next either way (the wallet, with ``access_denied``). ``unknown``: what
    an unknown or forged ``state`` is told (``invalid_request``, no wallet to tell)."""
    authorization = await authorization_named(context, kind, issuer_id, state, unknown)
    if authorization.effective_state(context.clock.now()) not in LIVE:
        await audit_refusal(
            context, authorization, actor, "login_ended", "a cancel after the sign-in ended"
        )
        return denied_redirect(context, authorization, AccessDenied(REFUSALS["login_ended"]))
    if same_browser(context, kind, authorization, browser_binding):
        reason, detail = "cancelled", "the citizen cancelled"
    else:
        reason, detail = "session_mismatch", "cancelled without the page's cookie"
    await refuse_authorization(context, authorization)
    await audit_refusal(context, authorization, actor, reason, detail)
    return denied_redirect(context, authorization, AccessDenied(REFUSALS[reason]))
