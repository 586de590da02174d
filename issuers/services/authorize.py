"""The authorization endpoint (RFC 6749 §4.1.1 with a pushed request, RFC 9126 §4;
OpenID4VCI 1.0 §5): the wallet sends the citizen with the ``request_uri`` it was given;
the agency authenticates the citizen (its ``CitizenAuthenticator``), takes the claims
from what it already holds — the offer a clerk made (``issuer_state``) or its register,
never from the citizen — and answers a short-lived, single-use code (§4.1.2, with ``iss``
of RFC 9207).

The claims wait in an offer, as for a clerk's: the code exchange redeems that offer the
way the pre-authorized code would, so an offer is turned into an access token once,
whichever grant reaches it first.
"""

from __future__ import annotations

from dataclasses import dataclass

from msgspec import UNSET

from core.errors import AccessDenied, InvalidRequest
from core.oauth import AuthorizationCodeResponse, AuthorizationErrorResponse
from issuers.domain import (
    AUTHORIZATION_MOVES,
    Authorization,
    AuthorizationState,
    CodeIssue,
    RegisterUnavailable,
)
from issuers.services.codes import random_token, sha256_hex
from issuers.services.context import IssuerContext
from issuers.services.register_offers import RegisterNotRead, register_offer


@dataclass(frozen=True, slots=True)
class AuthorizationRedirect:
    """Where the citizen's browser goes next: the wallet's redirect URI with the answer,
    the code or the error (RFC 6749 §4.1.2 and §4.1.2.1, with ``iss`` of RFC 9207)."""

    redirect_uri: str
    answer: AuthorizationCodeResponse | AuthorizationErrorResponse


def denied_redirect(
    context: IssuerContext, authorization: Authorization, denied: AccessDenied
) -> AuthorizationRedirect:
    """The wallet told that the citizen was not authorized (RFC 6749 §4.1.2.1)."""
    agency = context.agency(authorization.issuer_id)
    return AuthorizationRedirect(
        authorization.redirect_uri,
        AuthorizationErrorResponse(
            error=denied.error,
            error_description=denied.description,
            iss=agency.identifier(context.public_base_url),
            state=UNSET if authorization.wallet_state is None else authorization.wallet_state,
        ),
    )


async def start_authorization(
    context: IssuerContext,
    issuer_id: str,
    *,
    client_id: str,
    request_uri: str,
    choosing: bool = False,
) -> Authorization:
    """RFC 9126 §4: the pushed request of this client, used once, before it expires. One
    compare-and-set takes it; only a request that cannot be taken is read, to say why.
    ``choosing``: the citizen first chooses how to prove who they are (the agency allows
    several ways), else the authorization is ``authenticating`` at once."""
    context.agency(issuer_id)
    now = context.clock.now()
    state = AUTHORIZATION_MOVES.check(
        AuthorizationState.PUSHED,
        AuthorizationState.CHOOSING if choosing else AuthorizationState.AUTHENTICATING,
    )
    if len(request_uri) <= 512:
        request_uri_hash = sha256_hex(request_uri)
        taken = await context.authorizations.take_pushed(
            issuer_id,
            request_uri_hash,
            client_id=client_id,
            now=now,
            state=state,
            expires_at=now + context.policy.authentication_lifetime,
        )
        if taken is not None:
            return taken
        pushed = await context.authorizations.by_request_uri(issuer_id, request_uri_hash)
        if (
            pushed is not None
            and pushed.effective_state(now) is AuthorizationState.PUSHED
            and pushed.client_id != client_id
        ):
            raise InvalidRequest("the request_uri was pushed by another client")
    raise InvalidRequest("the request_uri is unknown, used or expired; push the request again")


async def _issue_code(
    context: IssuerContext,
    authorization: Authorization,
    code: CodeIssue,
    actor: str,
    identified_at: float | None,
) -> bool:
    """The move to ``code_issued`` with the offer whose claims the credential will carry:
    the clerk's (for the same citizen), or a new one from the agency's register, stored in
    the same step. Whether the authorization moved."""
    issuer_id = authorization.issuer_id
    subject_id = code.subject_id
    if authorization.offer_id is not None:
        offer = await context.offers.get(issuer_id, authorization.offer_id)
        if offer is None or offer.subject_id != subject_id:
            raise AccessDenied("this offer was made for another citizen")
        if identified_at is not None:  # the citizen is told the register was asked
            await context.offers.note_identified(issuer_id, offer.offer_id, identified_at)
        return await _move(context, code, offer.offer_id)
    [configuration_id] = authorization.configuration_ids  # one, as the pushed request was
    try:
        made = await register_offer(
            context,
            issuer_id,
            configuration_id,
            subject_id,
            actor=actor,
            outcome="authorized",
            identified_at=identified_at,
        )
    except RegisterUnavailable as failed:
        raise RegisterNotRead(failed) from failed
    if made is None:
        raise AccessDenied("the agency holds no such credential for this citizen")
    offer, audit = made
    return await context.offers.add_with_code(offer, audit, code)


async def _move(context: IssuerContext, code: CodeIssue, offer_id: str) -> bool:
    return await context.authorizations.move(
        code.authorization_id,
        expected=code.expected,
        state=AuthorizationState.CODE_ISSUED,
        now=code.now,
        expires_at=code.expires_at,
        subject_id=code.subject_id,
        code_hash=code.code_hash,
        offer_id=offer_id,
    )


async def authorize_citizen(
    context: IssuerContext, authorization: Authorization
) -> AuthorizationRedirect:
    """Authenticate the citizen of an authorization that is ``authenticating`` with the
    agency's ``CitizenAuthenticator`` and answer the wallet with a code, or with
    ``access_denied`` (RFC 6749 §4.1.2.1) when the citizen is unknown to the agency or
    holds no such credential."""
    agency = context.agency(authorization.issuer_id)
    subject_id = await context.authenticator.authenticate(agency, authorization)
    if subject_id is None:
        await refuse_authorization(context, authorization)
        raise AccessDenied("the citizen could not be authenticated")
    return await grant_authorization(
        context, authorization, subject_id, actor=f"wallet {authorization.client_id}"
    )


async def grant_authorization(
    context: IssuerContext,
    authorization: Authorization,
    subject_id: str,
    *,
    actor: str,
    identified_at: float | None = None,
) -> AuthorizationRedirect:
    """The code for an authenticated citizen, with the claims from the clerk's offer or
    the register (the offer, its audit entry and the code stored in one step);
    ``access_denied`` when the agency holds no such credential for them.
    ``identified_at``: when the register was asked who the citizen is (a presentation
    during issuance), told to the wallet with the credential."""
    agency = context.agency(authorization.issuer_id)
    issuer = agency.identifier(context.public_base_url)
    wallet_state = UNSET if authorization.wallet_state is None else authorization.wallet_state
    now = context.clock.now()
    code = random_token()
    AUTHORIZATION_MOVES.check(authorization.state, AuthorizationState.CODE_ISSUED)
    issue = CodeIssue(
        authorization.authorization_id,
        expected=authorization.state,
        now=now,
        expires_at=now + context.policy.authorization_code_lifetime,
        subject_id=subject_id,
        code_hash=sha256_hex(code),
    )
    try:
        issued = await _issue_code(context, authorization, issue, actor, identified_at)
    except AccessDenied:
        await refuse_authorization(context, authorization)
        raise
    if not issued:
        raise InvalidRequest("this authorization has ended; the wallet can start again")
    return AuthorizationRedirect(
        authorization.redirect_uri,
        AuthorizationCodeResponse(code=code, iss=issuer, state=wallet_state),
    )


async def refuse_authorization(context: IssuerContext, authorization: Authorization) -> None:
    """The authorization ends without a code (nothing is issued for it)."""
    state = AUTHORIZATION_MOVES.check(authorization.state, AuthorizationState.REFUSED)
    await context.authorizations.move(
        authorization.authorization_id,
        expected=authorization.state,
        state=state,
        now=context.clock.now(),
    )
