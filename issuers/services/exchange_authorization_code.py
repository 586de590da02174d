"""The token endpoint for the authorization code grant (RFC 6749 §4.1.3; OpenID4VCI 1.0
§6; PKCE, RFC 7636 §4.6).

The code is single-use and short-lived: one compare-and-set moves its authorization from
``code_issued`` to ``redeemed``, so of any number of racing exchanges one wins, whichever
worker serves it. A code presented again revokes the access token its first use gave
(RFC 6749 §4.1.2), and the application for a credential a clerk approves first that the
token made, so that it collects nothing at the Deferred Credential Endpoint. The code must
come from the client it was issued to, with the same ``redirect_uri`` and the PKCE
verifier of the pushed challenge, and from the key a DPoP proof bound the pushed request
to (RFC 9449 §10). Then the authorization's offer is
redeemed as a pre-authorized code would redeem it, and the access token is the same
kind of grant, bound to the key of the request's DPoP proof (RFC 9449 §5, HAIP 1.0 §4),
with the first refresh token of the authorization where the agency gives them
(``exchange_refresh_token``).
"""

from __future__ import annotations

from core.errors import InvalidDpopProof, InvalidGrant, InvalidRequest, UnsupportedGrantType
from core.oauth import AUTHORIZATION_CODE_GRANT, TokenRequest, TokenResponse, pkce_matches
from issuers.domain import (
    APPLICATION_MOVES,
    AUTHORIZATION_MOVES,
    OFFER_MOVES,
    AccessGrant,
    ApplicationState,
    Authorization,
    AuthorizationState,
    OfferState,
)
from issuers.services.codes import pre_authorized_code, random_token, sha256_hex
from issuers.services.context import IssuerContext
from issuers.services.exchange_code import token_response
from issuers.services.exchange_refresh_token import next_refresh_token

INVALID_CODE = "the authorization code is not valid"


def _matches(authorization: Authorization, request: TokenRequest, dpop_jkt: str | None) -> bool:
    return (
        request.client_id == authorization.client_id
        and request.redirect_uri == authorization.redirect_uri
        and pkce_matches(request.code_verifier, authorization.code_challenge)
        and (authorization.dpop_jkt is None or authorization.dpop_jkt == dpop_jkt)
    )


async def exchange_authorization_code(
    context: IssuerContext, issuer_id: str, request: TokenRequest, *, dpop_jkt: str | None
) -> TokenResponse:
    """``dpop_jkt``: the thumbprint of the key of the request's verified DPoP proof, which
    this grant requires (HAIP 1.0 §4: sender-constrained tokens)."""
    context.agency(issuer_id)
    if dpop_jkt is None:
        raise InvalidDpopProof("a DPoP proof is required for the authorization code grant")
    if request.grant_type != AUTHORIZATION_CODE_GRANT:
        raise UnsupportedGrantType("this is the authorization code grant")
    if not isinstance(request.code, str) or len(request.code) > 128:
        raise InvalidRequest("code is required")
    now = context.clock.now()
    authorization = await context.authorizations.by_code(issuer_id, sha256_hex(request.code))
    if authorization is None:
        raise InvalidGrant(INVALID_CODE)
    if authorization.state is AuthorizationState.REDEEMED:
        await _revoke(context, authorization)
        raise InvalidGrant(INVALID_CODE)
    if authorization.effective_state(now) is not AuthorizationState.CODE_ISSUED:
        raise InvalidGrant(INVALID_CODE)
    if not _matches(authorization, request, dpop_jkt) or authorization.offer_id is None:
        raise InvalidGrant(INVALID_CODE)
    state = AUTHORIZATION_MOVES.check(authorization.state, AuthorizationState.REDEEMED)
    if not await context.authorizations.move(
        authorization.authorization_id, expected=authorization.state, state=state, now=now
    ):
        # another exchange of the same code won: this one is the reuse
        await _revoke(context, authorization)
        raise InvalidGrant(INVALID_CODE)
    token = random_token()
    lifetime = context.policy.access_token_lifetime
    grant = AccessGrant(
        sha256_hex(token), "", issuer_id, now + lifetime, used=False, dpop_jkt=dpop_jkt
    )
    OFFER_MOVES.check(OfferState.OFFERED, OfferState.REDEEMED)
    offer_code = pre_authorized_code(context.secret, authorization.offer_id)
    if await context.offers.redeem_without_tx_code(sha256_hex(offer_code), now, grant) is None:
        raise InvalidGrant("the offer behind this authorization was used already or expired")
    response = token_response(token, lifetime, dpop_jkt)
    if authorization.subject_id is not None:
        refresh_token = await next_refresh_token(
            context,
            issuer_id,
            family_id=None,
            configuration_id=authorization.configuration_ids[0],
            subject_id=authorization.subject_id,
            client_id=authorization.client_id,
            dpop_jkt=dpop_jkt,
        )
        if refresh_token is not None:
            response.refresh_token = refresh_token
    return response


async def _revoke(context: IssuerContext, authorization: Authorization) -> None:
    if authorization.offer_id is not None:
        await context.grants.revoke_for_offer(authorization.offer_id)
        for live in (ApplicationState.PENDING, ApplicationState.APPROVED):
            APPLICATION_MOVES.check(live, ApplicationState.WITHDRAWN)
        await context.applications.withdraw_for_offer(authorization.offer_id, context.clock.now())
