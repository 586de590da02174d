"""The citizen proves who they are at the national eID provider (OpenID Connect Core 1.0
§3.1) during an agency's authorization code flow: the authorization endpoint sends the
browser to the provider, the provider sends it back to the agency's callback, and the
verified ID token's subject claim (``sub``, or a claim such as a personal number, per
agency) is the citizen's subject id in the agency's register, whose data the credential
carries.

Nothing of the login is stored apart from the authorization it belongs to: the login's
``state`` is the authorization's id with a MAC under the agency's secret, and its
``nonce``, PKCE verifier and the browser binding are derived from the same id, so a
callback can be tied to exactly one authorization that is still ``authenticating``. The
authorization's compare-and-set makes the login single-use. The browser binding is a
cookie set when the browser leaves for the provider: a callback arriving in another
browser (a login started by someone else, CSRF) is refused.

Every failure ends the authorization: the wallet is sent ``access_denied`` (RFC 6749
§4.1.2.1) with ``iss``, the agency's audit trail records why, and nothing is issued.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import AccessDenied
from core.oidc_login import EidLoginFailed, LoginRequest, OidcRelyingParty
from issuers.domain import Agency, Authorization, AuthorizationState
from issuers.services.authorize import (
    AuthorizationRedirect,
    denied_redirect,
    grant_authorization,
    refuse_authorization,
)
from issuers.services.browser_logins import (
    audit_refusal,
    authorization_named,
    derived,
    same_browser,
)
from issuers.services.context import IssuerContext
from issuers.services.register_offers import RegisterNotRead

#: The family of values derived for this way of logging in (``browser_logins``).
KIND = "eid login"
#: Where the provider sends the citizen back, under the agency's identifier.
CALLBACK_PATH = "eid/callback"
#: The cookie binding a login to the browser that started it.
BROWSER_COOKIE = "idwallet_eid_login"

#: What the citizen and the wallet are told, by the reason the login failed.
REFUSALS = {
    "provider_unavailable": "the eID service could not be reached; try again later",
    "provider_refused": "the eID login was cancelled or refused",
    "provider_mismatch": "the answer did not come from the eID service this agency uses",
    "invalid_id_token": "the eID service's answer could not be verified",
    "insufficient_acr": "this credential needs a stronger eID login",
    "no_subject": "the eID login did not say who you are",
    "session_mismatch": "the eID login was started in another browser or session",
    "not_in_register": "the agency holds no such credential for you",
}


@dataclass(frozen=True, slots=True)
class EidRedirect:
    """Where the browser goes to log in, and the value of its binding cookie."""

    url: str
    browser_binding: str


@dataclass(frozen=True, slots=True)
class EidCallback:
    """What the provider sent the browser back with (Core §3.1.2.5 and §3.1.2.6)."""

    state: str
    code: str | None = None
    error: str | None = None
    iss: str | None = None


def uses_eid_login(context: IssuerContext, agency: Agency) -> bool:
    return agency.eid_login is not None and agency.issuer_id in context.eid_parties


def callback_uri(context: IssuerContext, agency: Agency) -> str:
    return f"{agency.identifier(context.public_base_url)}/{CALLBACK_PATH}"


def _derived(context: IssuerContext, purpose: str, authorization_id: str) -> str:
    return derived(context, KIND, purpose, authorization_id)


def _login(context: IssuerContext, agency: Agency, authorization: Authorization) -> LoginRequest:
    [configuration_id] = authorization.configuration_ids
    configuration = agency.configurations[configuration_id]
    authorization_id = authorization.authorization_id
    return LoginRequest(
        redirect_uri=callback_uri(context, agency),
        state=f"{authorization_id}.{_derived(context, 'state', authorization_id)}",
        nonce=_derived(context, "nonce", authorization_id),
        code_verifier=_derived(context, "pkce", authorization_id)
        + _derived(context, "pkce2", authorization_id),
        acr_values=configuration.eid_acr_values,
    )


async def begin_eid_login(context: IssuerContext, authorization: Authorization) -> EidRedirect:
    """The provider's authentication request for an ``authenticating`` authorization."""
    agency = context.agency(authorization.issuer_id)
    party = context.eid_parties[agency.issuer_id]
    try:
        url = await party.authorization_url(_login(context, agency, authorization))
    except EidLoginFailed as failed:
        await _refused(context, authorization, failed)
        raise AccessDenied(REFUSALS[failed.reason]) from failed
    return EidRedirect(url, _derived(context, "browser", authorization.authorization_id))


async def finish_eid_login(
    context: IssuerContext,
    issuer_id: str,
    callback: EidCallback,
    *,
    browser_binding: str | None,
) -> AuthorizationRedirect:
    """The provider's answer, verified, turned into the wallet's code; or its refusal."""
    agency = context.agency(issuer_id)
    authorization = await authorization_named(
        context, KIND, issuer_id, callback.state, "this eID login is unknown to the agency"
    )
    if authorization.effective_state(context.clock.now()) is not AuthorizationState.AUTHENTICATING:
        # a login answered twice (a replayed or doubled callback): what the first answer
        # gave stands, this one gets nothing
        await _audit(context, authorization, "login_ended", "a callback for an ended login")
        return denied_redirect(
            context, authorization, AccessDenied("this eID login has ended already")
        )
    party = context.eid_parties[issuer_id]
    try:
        subject_id = await _verified_subject(
            context,
            agency,
            party,
            authorization,
            callback=callback,
            browser_binding=browser_binding,
        )
    except EidLoginFailed as failed:
        await _refused(context, authorization, failed)
        return denied_redirect(context, authorization, AccessDenied(REFUSALS[failed.reason]))
    try:
        return await grant_authorization(
            context,
            authorization,
            subject_id,
            actor=f"wallet {authorization.client_id} (national eID login)",
        )
    except RegisterNotRead as not_read:
        await _audit(context, authorization, "register_unavailable", not_read.detail[:200])
        return denied_redirect(context, authorization, not_read)
    except AccessDenied as denied:
        await _audit(context, authorization, "not_in_register", "no such credential")
        return denied_redirect(context, authorization, denied)


async def _verified_subject(
    context: IssuerContext,
    agency: Agency,
    party: OidcRelyingParty,
    authorization: Authorization,
    *,
    callback: EidCallback,
    browser_binding: str | None,
) -> str:
    if not same_browser(context, KIND, authorization, browser_binding):
        raise EidLoginFailed("session_mismatch", "the callback came without the login's cookie")
    if callback.iss is not None and callback.iss != party.client.issuer:
        raise EidLoginFailed("provider_mismatch", "the callback's iss is another issuer")
    if callback.error is not None or callback.code is None:
        raise EidLoginFailed("provider_refused", f"the provider answered {callback.error!r}")
    login = _login(context, agency, authorization)
    verified = await party.complete(login, callback.code, now=context.clock.now())
    assert agency.eid_login is not None  # uses_eid_login
    subject = verified.claims.get(agency.eid_login.subject_claim)
    if not isinstance(subject, str) or not 0 < len(subject) <= 200:
        raise EidLoginFailed(
            "no_subject", f"the ID token has no {agency.eid_login.subject_claim} claim"
        )
    return subject


async def _refused(
    context: IssuerContext, authorization: Authorization, failed: EidLoginFailed
) -> None:
    await refuse_authorization(context, authorization)
    await _audit(context, authorization, failed.reason, failed.detail)


async def _audit(
    context: IssuerContext, authorization: Authorization, reason: str, detail: str
) -> None:
    await audit_refusal(context, authorization, "national eID login", reason, detail)
