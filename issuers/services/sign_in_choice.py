"""The citizen chooses how to prove who they are, where the agency allows several ways (the
national eID login and a presentation during issuance); OpenID4VCI 1.0 §5 leaves how the
authorization server authenticates the End-User to it.

The authorization endpoint takes the pushed request into ``choosing`` and sends the
browser to the agency's page, which shows which agency asks, what it will issue and from
which register data, and one button per usable way (``sign_in_ways``). As for the ways
themselves, nothing is kept apart from the authorization: the page's ``state`` is the
authorization's id with a MAC under the agency's secret, the page is bound to the browser
the authorization endpoint sent there (a cookie derived from the same id), and the choice
is the authorization's compare-and-set from ``choosing`` to ``authenticating``: it opens
exactly one way, once. A second choice opens none: the wallet is told ``access_denied``
(RFC 6749 §4.1.2.1) and what the first choice started goes on. A choice from another
browser ends the authorization, as a login completed in another browser does.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from core.errors import AccessDenied, InvalidRequest
from issuers.domain import Agency, Authorization, AuthorizationState, SignInWay
from issuers.services.authorize import (
    AuthorizationRedirect,
    denied_redirect,
    refuse_authorization,
)
from issuers.services.browser_logins import (
    audit_refusal,
    authorization_named,
    derived,
    same_browser,
    state_of,
)
from issuers.services.context import IssuerContext
from issuers.services.sign_in_messages import SignInChoiceView, SignInWayLink
from issuers.services.sign_in_ways import usable_ways
from issuers.services.what_is_issued import localized_names, register_data

#: The family of values derived for the choice (``browser_logins``).
KIND = "sign-in choice"
#: The agency's page where the citizen chooses, under the agency's identifier.
PAGE_PATH = "sign-in"
#: The cookie binding the page to the browser the authorization endpoint sent there.
BROWSER_COOKIE = "idwallet_sign_in"
#: What a page or a choice of an unknown or forged ``state`` is told (no wallet to tell).
UNKNOWN = "this sign-in is unknown to the agency"
#: Who the audit trail names for what happens on the page.
ACTOR = "sign-in choice"

#: What the citizen and the wallet are told, by the reason the choice did not go on.
REFUSALS = {
    "session_mismatch": "the sign-in was started in another browser or session",
    "choice_ended": "a way to prove who you are was chosen already, or the sign-in has ended",
}


@dataclass(frozen=True, slots=True)
class ChoicePage:
    """Where the authorization endpoint sends the browser, and its binding cookie."""

    url: str
    browser_binding: str


@dataclass(frozen=True, slots=True)
class ChosenWay:
    """The authorization, now ``authenticating``, and the one way to open for it."""

    authorization: Authorization
    way: SignInWay


def choice_url(context: IssuerContext, agency: Agency, state: str) -> str:
    return f"{agency.identifier(context.public_base_url)}/{PAGE_PATH}/{state}"


def begin_sign_in_choice(context: IssuerContext, authorization: Authorization) -> ChoicePage:
    """The page for an authorization that is ``choosing``."""
    agency = context.agency(authorization.issuer_id)
    authorization_id = authorization.authorization_id
    return ChoicePage(
        choice_url(context, agency, state_of(context, KIND, authorization_id)),
        derived(context, KIND, "browser", authorization_id),
    )


async def sign_in_choice_view(
    context: IssuerContext, issuer_id: str, state: str, *, browser_binding: str | None
) -> SignInChoiceView:
    """What the page shows: who asks for what, from which register data, the ways the
    citizen may take, and whether one was taken already."""
    agency = context.agency(issuer_id)
    authorization = await authorization_named(context, KIND, issuer_id, state, UNKNOWN)
    if not same_browser(context, KIND, authorization, browser_binding):
        raise AccessDenied(REFUSALS["session_mismatch"])
    effective = authorization.effective_state(context.clock.now())
    status = {
        AuthorizationState.CHOOSING: "choosing",
        AuthorizationState.AUTHENTICATING: "chosen",
    }.get(effective, "ended")
    [configuration_id] = authorization.configuration_ids
    url = choice_url(context, agency, state)
    return SignInChoiceView(
        status=status,
        agency=localized_names(agency.display),
        credential=localized_names(agency.configurations[configuration_id].display),
        register=register_data(agency, configuration_id),
        ways=[
            SignInWayLink(way=way, url=f"{url}/choose?way={way.value}")
            for way in usable_ways(context, agency)
        ],
        cancel_url=f"{url}/cancel",
    )


async def choose_sign_in_way(
    context: IssuerContext,
    issuer_id: str,
    state: str,
    way: SignInWay,
    *,
    browser_binding: str | None,
) -> ChosenWay | AuthorizationRedirect:
    """The citizen's choice: the authorization moved to ``authenticating`` for the way to
    open, or the wallet's ``access_denied`` where the choice cannot be made (made already,
    the authorization ended, another browser)."""
    agency = context.agency(issuer_id)
    authorization = await authorization_named(context, KIND, issuer_id, state, UNKNOWN)
    if way not in usable_ways(context, agency):
        raise InvalidRequest(f"this agency does not offer {way.value} to prove who you are")
    now = context.clock.now()
    if authorization.effective_state(now) is not AuthorizationState.CHOOSING:
        return await _ended(context, authorization)
    if not same_browser(context, KIND, authorization, browser_binding):
        await refuse_authorization(context, authorization)
        await audit_refusal(
            context, authorization, ACTOR, "session_mismatch", "chosen without the page's cookie"
        )
        return denied_redirect(context, authorization, AccessDenied(REFUSALS["session_mismatch"]))
    moved = await context.authorizations.move(
        authorization.authorization_id,
        expected=AuthorizationState.CHOOSING,
        state=AuthorizationState.AUTHENTICATING,
        now=now,
    )
    if not moved:  # another choice (or the end of the authorization) came first
        return await _ended(context, authorization)
    return ChosenWay(
        dataclasses.replace(authorization, state=AuthorizationState.AUTHENTICATING), way
    )


async def _ended(context: IssuerContext, authorization: Authorization) -> AuthorizationRedirect:
    # a choice made twice (another tab, the browser's back button, a replay): what the
    # first choice started stands, this one opens nothing
    await audit_refusal(
        context, authorization, ACTOR, "choice_ended", "a choice after the choice was made"
    )
    return denied_redirect(context, authorization, AccessDenied(REFUSALS["choice_ended"]))
