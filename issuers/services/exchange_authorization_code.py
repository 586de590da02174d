"""The token endpoint for the authorization code grant (RFC 6749 §4.1.3; OpenID4VCI 1.0
§6; PKCE, RFC 7636 §4.6).

The code is single-use and short-lived: one compare-and-set moves its authorization from
``code_issued`` to ``redeemed``, so of any number of racing exchanges one wins, whichever
worker serves it. A code presented again revokes the access token its first use gave
(RFC 6749 §4.1.2), and the application for a credential a clerk approves first that the
token made, so that it collects nothing at the Deferred Credential Endpoint. The code must
come from the client it was issued to, with the same ``redirect_uri`` and the PKCE
verifier of the pushed challenge, and from the key a DPoP proof bound the pushed request
to (RFC 9449 §10): the compare-and-set matches all of these. Then the authorization's offer
is redeemed as a pre-authorized code would redeem it, and the access token is the same
kind of grant, bound to the key of the request's DPoP proof (RFC 9449 §5, HAIP 1.0 §4),
with the first refresh token of the authorization where the agency gives them
(``exchange_refresh_token``).

The request's single-use values, the move, the offer's redemption with the grant and the
refresh token are one step of the store (one statement on PostgreSQL); only a code that
did not match is read again, to tell a reuse (which revokes) from a mistake.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from msgspec import UnsetType

from core.errors import InvalidDpopProof, InvalidGrant, InvalidRequest, UnsupportedGrantType
from core.oauth import (
    AUTHORIZATION_CODE_GRANT,
    TokenRequest,
    TokenResponse,
    pkce_challenge_of,
    pkce_matches,
)
from core.replay import SingleUse, UsedBefore
from issuers.domain import (
    APPLICATION_MOVES,
    AUTHORIZATION_MOVES,
    OFFER_MOVES,
    AccessGrant,
    ApplicationState,
    Authorization,
    AuthorizationState,
    FirstRefreshToken,
    OfferState,
)
from issuers.services.codes import random_token, sha256_hex
from issuers.services.context import IssuerContext
from issuers.services.exchange_code import token_response

INVALID_CODE = "the authorization code is not valid"


def _matches(authorization: Authorization, request: TokenRequest, dpop_jkt: str | None) -> bool:
    return (
        request.client_id == authorization.client_id
        and request.redirect_uri == authorization.redirect_uri
        and pkce_matches(request.code_verifier, authorization.code_challenge)
        and (authorization.dpop_jkt is None or authorization.dpop_jkt == dpop_jkt)
    )


async def exchange_authorization_code(
    context: IssuerContext,
    issuer_id: str,
    request: TokenRequest,
    *,
    dpop_jkt: str | None,
    spend: Sequence[SingleUse] = (),
) -> TokenResponse:
    """``dpop_jkt``: the thumbprint of the key of the request's verified DPoP proof, which
    this grant requires (HAIP 1.0 §4: sender-constrained tokens); ``spend``: the
    request's single-use values, used up as the code is redeemed (each answered with its
    own refusal when it was used before)."""
    agency = context.agency(issuer_id)
    if dpop_jkt is None:
        raise InvalidDpopProof("a DPoP proof is required for the authorization code grant")
    if request.grant_type != AUTHORIZATION_CODE_GRANT:
        raise UnsupportedGrantType("this is the authorization code grant")
    if not isinstance(request.code, str) or len(request.code) > 128:
        raise InvalidRequest("code is required")
    now = context.clock.now()
    code_hash = sha256_hex(request.code)
    AUTHORIZATION_MOVES.check(AuthorizationState.CODE_ISSUED, AuthorizationState.REDEEMED)
    OFFER_MOVES.check(OfferState.OFFERED, OfferState.REDEEMED)
    token = random_token()
    lifetime = context.policy.access_token_lifetime
    grant = AccessGrant(
        sha256_hex(token), "", issuer_id, now + lifetime, used=False, dpop_jkt=dpop_jkt
    )
    refresh_token = random_token() if agency.refresh_token_lifetime > 0 else None
    try:
        redeemed = await context.authorizations.redeem_code(
            issuer_id,
            code_hash,
            now=now,
            client_id=None if isinstance(request.client_id, UnsetType) else request.client_id,
            redirect_uri=(
                None if isinstance(request.redirect_uri, UnsetType) else request.redirect_uri
            ),
            code_challenge=pkce_challenge_of(request.code_verifier),
            dpop_jkt=dpop_jkt,
            grant=grant,
            refresh_token=None
            if refresh_token is None
            else FirstRefreshToken(
                sha256_hex(refresh_token),
                str(uuid.uuid4()),
                now + agency.refresh_token_lifetime,
            ),
            spend=spend,
        )
    except UsedBefore as used:
        raise used.refusal from None
    if redeemed is None:
        authorization = await context.authorizations.by_code(issuer_id, code_hash)
        if authorization is not None and authorization.state is AuthorizationState.REDEEMED:
            # used before, or another exchange of the same code won: this one is the reuse
            await _revoke(context, authorization)
        raise InvalidGrant(INVALID_CODE)
    if not _matches(redeemed.authorization, request, dpop_jkt):  # as the statement matched
        raise InvalidGrant(INVALID_CODE)
    if not redeemed.offer_redeemed:
        raise InvalidGrant("the offer behind this authorization was used already or expired")
    response = token_response(token, lifetime, dpop_jkt)
    if redeemed.refresh_token_kept and refresh_token is not None:
        response.refresh_token = refresh_token
    return response


async def _revoke(context: IssuerContext, authorization: Authorization) -> None:
    if authorization.offer_id is not None:
        await context.grants.revoke_for_offer(authorization.offer_id)
        for live in (ApplicationState.PENDING, ApplicationState.APPROVED):
            APPLICATION_MOVES.check(live, ApplicationState.WITHDRAWN)
        await context.applications.withdraw_for_offer(authorization.offer_id, context.clock.now())
