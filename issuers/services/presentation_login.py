"""The citizen proves who they are by presenting a credential their wallet already holds
(presentation during issuance; OpenID4VP 1.0 through the verifier's public counter API,
OpenID4VCI 1.0 §5 around it): the transport agency asks for the national ID before it
issues a driving licence.

The authorization endpoint asks the agency's counter (a verifier tenant registered for
exactly this check) for a presentation and sends the browser to the authorization page,
which shows the request as a QR code (cross-device) and, on demand, as a link that opens a
wallet on this device (same-device, OpenID4VP 1.0 §13.3: the wallet sends the browser back
to the page with a ``response_code`` that releases the answer, once, to this session). The
page follows the request; once the counter has verified the presentation (every check of
the verifier, the credential's status included) the page's completion matches the proven
claims, as the agency's catalog maps them, against its register: exactly one citizen must
match, and the credential then carries what the register holds for them (the citizen
types nothing).

As for the eID login, nothing is kept apart from the authorization: the page's ``state``
is the authorization's id with a MAC under the agency's secret, the page is bound to the
browser that the authorization endpoint sent there (a cookie derived from the same id),
and the authorization's compare-and-set makes the completion single-use. Every failure
ends the authorization: the wallet is sent ``access_denied`` (RFC 6749 §4.1.2.1) with
``iss``, the audit trail records why (``authorization.refuse`` with a reason code, never
the claims), and nothing is issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import msgspec

from core.errors import AccessDenied, InvalidRequest
from issuers.domain import (
    Agency,
    AskedPresentation,
    Authorization,
    AuthorizationState,
    CounterUnavailable,
    PresentationAnswer,
    PresentationLoginPolicy,
    RegisterPurpose,
    RegisterQuery,
    RegisterUnavailable,
    SeveralInRegister,
)
from issuers.ports import PresentationCounter
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
    state_of,
)
from issuers.services.context import IssuerContext
from issuers.services.presentation_login_messages import PresentationLoginView, SameDeviceLink
from issuers.services.register_offers import RegisterNotRead
from issuers.services.what_is_issued import localized_names, register_data

#: The authorization page, under the agency's identifier.
PAGE_PATH = "presentation-login"
#: The cookie binding the page to the browser the authorization endpoint sent there.
BROWSER_COOKIE = "idwallet_presentation_login"
#: The counter's states that are final.
FINAL = frozenset({"verified", "failed", "expired"})

#: What the citizen and the wallet are told, by the reason the identification failed.
REFUSALS = {
    "counter_unavailable": "the agency's identity check could not be reached; try again later",
    "session_mismatch": "the identity check was started in another browser or session",
    "presentation_declined": "the wallet did not share the credential the agency asked for",
    "presentation_failed": "the shared credential could not be verified (revoked, expired or"
    " not genuine)",
    "presentation_expired": "the request to the wallet timed out",
    "answer_not_released": "the wallet's answer came back to another session",
    "claims_missing": "the shared credential did not say who you are",
    "not_in_register": "the agency holds no such credential for the person shown",
    "several_matches": "the person shown matches more than one record of the agency",
    "other_citizen": "the credential shown is not of the citizen this offer was made for",
}


class _Kept(msgspec.Struct, forbid_unknown_fields=True):
    """The request asked for, as the authorization keeps it."""

    transaction_id: str
    uri: str
    expires_at: str | None = None
    session_token: str | None = None


@dataclass(frozen=True, slots=True)
class PresentationPage:
    """Where the authorization endpoint sends the browser, and its binding cookie."""

    url: str
    browser_binding: str


class PresentationLoginRefused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def uses_presentation_login(context: IssuerContext, agency: Agency) -> bool:
    return agency.presentation_login is not None and context.presentation_counter is not None


#: The family of values derived for this way of finding out who the citizen is.
KIND = "presentation login"
#: What a page of an unknown or forged ``state`` is told (no wallet to tell).
UNKNOWN = "this identity check is unknown to the agency"
#: Who the audit trail names for what happens on the page.
ACTOR = "presentation during issuance"


def page_state(context: IssuerContext, authorization_id: str) -> str:
    return state_of(context, KIND, authorization_id)


def page_url(context: IssuerContext, agency: Agency, state: str) -> str:
    return f"{agency.identifier(context.public_base_url)}/{PAGE_PATH}/{state}"


def _policy(
    context: IssuerContext, agency: Agency
) -> tuple[PresentationLoginPolicy, PresentationCounter]:
    policy, counter = agency.presentation_login, context.presentation_counter
    if policy is None or counter is None:
        raise InvalidRequest("this agency does not identify citizens by a presentation")
    return policy, counter


async def begin_presentation_login(
    context: IssuerContext, authorization: Authorization
) -> PresentationPage:
    """A cross-device request at the agency's counter for an ``authenticating``
    authorization, kept on it; the page the browser is sent to."""
    agency = context.agency(authorization.issuer_id)
    policy, counter = _policy(context, agency)
    try:
        asked = await counter.ask(policy.verifier_id, policy.template)
    except CounterUnavailable as failed:
        await _refused(context, authorization, "counter_unavailable", str(failed))
        raise AccessDenied(REFUSALS["counter_unavailable"]) from failed
    await _keep(context, authorization, asked)
    state = page_state(context, authorization.authorization_id)
    return PresentationPage(
        page_url(context, agency, state),
        derived(context, KIND, "browser", authorization.authorization_id),
    )


async def _keep(
    context: IssuerContext, authorization: Authorization, asked: AskedPresentation
) -> None:
    kept = _Kept(
        transaction_id=asked.transaction_id,
        uri=asked.uri,
        expires_at=asked.expires_at,
        session_token=asked.session_token,
    )
    if not await context.authorizations.set_presentation(
        authorization.authorization_id,
        msgspec.json.encode(kept).decode("utf-8"),
        now=context.clock.now(),
    ):
        raise InvalidRequest("this authorization has ended; the wallet can start again")


def _kept(authorization: Authorization) -> _Kept:
    if authorization.presentation is None:
        raise InvalidRequest("this authorization asked for no presentation")
    return msgspec.json.decode(authorization.presentation, type=_Kept)


async def _authorization_of(context: IssuerContext, issuer_id: str, state: str) -> Authorization:
    """The authorization a page's ``state`` names, if its MAC holds."""
    return await authorization_named(context, KIND, issuer_id, state, UNKNOWN)


def _same_browser(
    context: IssuerContext, authorization: Authorization, browser_binding: str | None
) -> bool:
    return same_browser(context, KIND, authorization, browser_binding)


async def presentation_login_view(
    context: IssuerContext, issuer_id: str, state: str, *, browser_binding: str | None
) -> PresentationLoginView:
    """What the authorization page shows: who asks for what, and where the answer stands."""
    agency = context.agency(issuer_id)
    policy, counter = _policy(context, agency)
    authorization = await _authorization_of(context, issuer_id, state)
    if not _same_browser(context, authorization, browser_binding):
        raise AccessDenied(REFUSALS["session_mismatch"])
    kept = _kept(authorization)
    [configuration_id] = authorization.configuration_ids
    url = page_url(context, agency, state)
    view = PresentationLoginView(
        status="ended",
        agency=localized_names(agency.display),
        credential=localized_names(agency.configurations[configuration_id].display),
        register=register_data(agency, configuration_id),
        verifier_id=policy.verifier_id,
        uri=kept.uri,
        same_device=kept.session_token is not None,
        qr_svg_url=f"{url}/qr.svg",
        complete_url=f"{url}/complete",
        expires_at=kept.expires_at,
    )
    if authorization.effective_state(context.clock.now()) is not AuthorizationState.AUTHENTICATING:
        return view
    try:
        answer = await counter.answer(policy.verifier_id, kept.transaction_id)
    except CounterUnavailable as failed:
        raise AccessDenied(REFUSALS["counter_unavailable"]) from failed
    view.status = answer.status
    if answer.status in ("failed", "expired"):
        view.reason = _failure(answer)[0].removeprefix("presentation_")
    return view


async def qr_text(
    context: IssuerContext, issuer_id: str, state: str, *, browser_binding: str | None
) -> tuple[str, str]:
    """The cross-device request's link (the QR code's text) and its transaction id."""
    agency = context.agency(issuer_id)
    _policy(context, agency)
    authorization = await _authorization_of(context, issuer_id, state)
    if not _same_browser(context, authorization, browser_binding):
        raise AccessDenied(REFUSALS["session_mismatch"])
    kept = _kept(authorization)
    return kept.uri, kept.transaction_id


async def ask_same_device(
    context: IssuerContext, issuer_id: str, state: str, *, browser_binding: str | None
) -> SameDeviceLink:
    """A same-device request in place of the cross-device one: the wallet on this device
    answers it and sends the browser back to the page with the ``response_code``."""
    agency = context.agency(issuer_id)
    policy, counter = _policy(context, agency)
    authorization = await _authorization_of(context, issuer_id, state)
    if not _same_browser(context, authorization, browser_binding):
        raise AccessDenied(REFUSALS["session_mismatch"])
    if authorization.effective_state(context.clock.now()) is not AuthorizationState.AUTHENTICATING:
        raise InvalidRequest("this authorization has ended; the wallet can start again")
    try:
        asked = await counter.ask(
            policy.verifier_id, policy.template, same_device_return=page_url(context, agency, state)
        )
    except CounterUnavailable as failed:
        raise AccessDenied(REFUSALS["counter_unavailable"]) from failed
    await _keep(context, authorization, asked)
    return SameDeviceLink(
        link=_wallet_link(context, authorization, asked.uri), expires_at=asked.expires_at
    )


#: Where this deployment's own wallet takes a request handed over on the same device.
WEB_WALLET_PATH = "/wallet-app"
#: The redirect URI of this deployment's own wallet.
WEB_WALLET_CALLBACK = "/wallet/callback"


def _wallet_link(context: IssuerContext, authorization: Authorization, uri: str) -> str:
    """The request as a link that opens the wallet asking: any wallet app claims
    ``openid4vp://``; the citizen web wallet of this deployment (whose redirect URI is
    this deployment's ``/wallet/callback``) takes it in its page, as a counter's
    same-device link does."""
    if authorization.redirect_uri == f"{context.public_base_url}{WEB_WALLET_CALLBACK}":
        return f"{context.public_base_url}{WEB_WALLET_PATH}#{urlencode({'request': uri})}"
    return uri


async def finish_presentation_login(
    context: IssuerContext,
    issuer_id: str,
    state: str,
    *,
    browser_binding: str | None,
    response_code: str | None,
) -> AuthorizationRedirect | None:
    """The verified presentation turned into the wallet's code, or the refusal; None
    while the wallet has not answered yet (the page keeps waiting)."""
    agency = context.agency(issuer_id)
    policy, counter = _policy(context, agency)
    authorization = await _authorization_of(context, issuer_id, state)
    if authorization.effective_state(context.clock.now()) is not AuthorizationState.AUTHENTICATING:
        # a completion repeated or replayed: what the first one gave stands
        await _audit(context, authorization, "login_ended", "a completion of an ended check")
        return denied_redirect(
            context, authorization, AccessDenied("this identity check has ended already")
        )
    try:
        identified = await _identified(
            context,
            agency,
            policy,
            counter,
            authorization,
            browser_binding=browser_binding,
            response_code=response_code,
        )
    except PresentationLoginRefused as refused:
        await _refused(context, authorization, refused.reason, refused.detail)
        return denied_redirect(context, authorization, AccessDenied(REFUSALS[refused.reason]))
    except RegisterNotRead as not_read:
        await _refused(context, authorization, "register_unavailable", not_read.detail[:200])
        return denied_redirect(context, authorization, not_read)
    if identified is None:
        return None
    subject_id, identified_at = identified
    try:
        return await grant_authorization(
            context,
            authorization,
            subject_id,
            actor=f"wallet {authorization.client_id} (presentation of {policy.template})",
            identified_at=identified_at,
        )
    except RegisterNotRead as not_read:
        await _audit(context, authorization, "register_unavailable", not_read.detail[:200])
        return denied_redirect(context, authorization, not_read)
    except AccessDenied:
        reason = "other_citizen" if authorization.offer_id is not None else "not_in_register"
        await _audit(context, authorization, reason, "the register entry does not fit")
        return denied_redirect(context, authorization, AccessDenied(REFUSALS[reason]))


def _failure(answer: PresentationAnswer) -> tuple[str, str]:
    if answer.status == "expired":
        return "presentation_expired", "the request expired unanswered"
    if answer.wallet_error is not None:
        return "presentation_declined", f"the wallet answered {answer.wallet_error}"[:200]
    return "presentation_failed", f"the counter refused it: {answer.error or 'invalid'}"[:200]


async def _identified(
    context: IssuerContext,
    agency: Agency,
    policy: PresentationLoginPolicy,
    counter: PresentationCounter,
    authorization: Authorization,
    *,
    browser_binding: str | None,
    response_code: str | None,
) -> tuple[str, float] | None:
    """The citizen's identifier in the register and when the register was asked."""
    if not _same_browser(context, authorization, browser_binding):
        raise PresentationLoginRefused("session_mismatch", "completed without the page's cookie")
    kept = _kept(authorization)
    try:
        answer: PresentationAnswer | None
        if kept.session_token is not None and response_code is not None:
            answer = await counter.release(
                policy.verifier_id,
                kept.transaction_id,
                response_code=response_code[:256],
                session_token=kept.session_token,
            )
            if answer is None:
                raise PresentationLoginRefused(
                    "answer_not_released", "the counter refused the response_code"
                )
        else:
            answer = await counter.answer(policy.verifier_id, kept.transaction_id)
    except CounterUnavailable as failed:
        raise PresentationLoginRefused("counter_unavailable", str(failed)) from failed
    if answer.status not in FINAL:
        return None
    if answer.status != "verified":
        raise PresentationLoginRefused(*_failure(answer))
    if kept.session_token is not None and response_code is None:
        # a same-device answer is this session's only with the code the wallet sent the
        # browser back with (OpenID4VP 1.0 §13.3): another browser holding the page
        # cannot take it
        raise PresentationLoginRefused(
            "answer_not_released", "a same-device answer completed without its response_code"
        )
    return await _matching_subject(context, agency, policy, authorization, answer)


async def _matching_subject(
    context: IssuerContext,
    agency: Agency,
    policy: PresentationLoginPolicy,
    authorization: Authorization,
    answer: PresentationAnswer,
) -> tuple[str, float]:
    """The one citizen of the register whose record of the configuration being issued
    holds every mapped claim as the presentation proved it (the register is asked,
    ``identify_citizen``)."""
    if len(answer.proved) != 1:
        raise PresentationLoginRefused("claims_missing", "not exactly one credential proved")
    [proved] = answer.proved
    wanted = {held: proved.get(presented) for presented, held in policy.match}
    identity: list[tuple[str, str | int]] = []
    for held, value in wanted.items():
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise PresentationLoginRefused("claims_missing", "a claim to match is missing")
        identity.append((held, value))
    [configuration_id] = authorization.configuration_ids
    record_id = agency.configurations[configuration_id].record_id
    query = RegisterQuery(
        agency.issuer_id, record_id, RegisterPurpose.IDENTIFY_CITIZEN, identity=tuple(identity)
    )
    asked_at = context.clock.now()
    try:
        found = await context.register.read(query)
    except SeveralInRegister as exc:
        raise PresentationLoginRefused("several_matches", str(exc)) from exc
    except RegisterUnavailable as failed:
        raise RegisterNotRead(failed) from failed
    if found is None:
        raise PresentationLoginRefused("not_in_register", "no register entry matches")
    return found.subject_id, asked_at


async def _refused(
    context: IssuerContext, authorization: Authorization, reason: str, detail: str
) -> None:
    await refuse_authorization(context, authorization)
    await _audit(context, authorization, reason, detail)


async def _audit(
    context: IssuerContext, authorization: Authorization, reason: str, detail: str
) -> None:
    await audit_refusal(context, authorization, ACTOR, reason, detail)
