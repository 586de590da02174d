"""The token endpoint for the pre-authorized code grant (OpenID4VCI 1.0 §6, RFC 6749 §5).

The code is single-use (one conditional update decides, whatever the concurrency),
short-lived, and guarded by the transaction code when the offer has one: every try is
counted in the database before the code is compared, so no number of parallel requests
gets more than the allowed attempts, and a wrong code does not burn the offer before the
limit (§13.6.2). Redeeming moves the offer from ``offered`` to ``redeemed``
(``issuers.domain.OFFER_MOVES``).
"""

from __future__ import annotations

from msgspec import UNSET

from core.dpop import AccessTokenScheme
from core.errors import InvalidGrant, InvalidRequest, UnsupportedGrantType
from core.oauth import PRE_AUTHORIZED_GRANT, TokenRequest, TokenResponse
from issuers.domain import OFFER_MOVES, AccessGrant, Offer, OfferState
from issuers.services.codes import random_token, same, sha256_hex, tx_code_hash
from issuers.services.context import IssuerContext

MAX_TX_CODE_LENGTH = 32


async def exchange_pre_authorized_code(
    context: IssuerContext, issuer_id: str, request: TokenRequest, *, dpop_jkt: str | None = None
) -> TokenResponse:
    """``dpop_jkt``: the key of the request's verified DPoP proof, which the token is then
    bound to (RFC 9449 §5, §6); None for a bearer token."""
    context.agency(issuer_id)
    if request.grant_type != PRE_AUTHORIZED_GRANT:
        raise UnsupportedGrantType("only the pre-authorized code grant is supported")
    code = request.pre_authorized_code
    if code is UNSET:
        raise InvalidRequest("pre-authorized_code is required")
    tx_code = None if request.tx_code is UNSET else request.tx_code
    if tx_code is not None and len(tx_code) > MAX_TX_CODE_LENGTH:
        raise InvalidGrant("the transaction code is not correct")
    code_hash = sha256_hex(code)
    now = context.clock.now()
    token = random_token()
    lifetime = context.policy.access_token_lifetime
    if tx_code is None:
        # The common case in one step: a live offer without a transaction code.
        grant = AccessGrant(
            sha256_hex(token), "", issuer_id, now + lifetime, used=False, dpop_jkt=dpop_jkt
        )
        # The statement's compare-and-set expects an offer still offered.
        OFFER_MOVES.check(OfferState.OFFERED, OfferState.REDEEMED)
        redeemed = await context.offers.redeem_without_tx_code(code_hash, now, grant)
        if redeemed is not None:
            return token_response(token, lifetime, dpop_jkt)
        offer = await _live_offer(context, code_hash, issuer_id, now)
        if offer is not None and offer.tx_code_hash is not None:
            raise InvalidRequest("this offer needs its transaction code (tx_code)")
        raise InvalidGrant("the pre-authorized code is not valid")
    counted = await context.offers.reserve_tx_code_attempt(code_hash, issuer_id, now)
    if counted is None:
        offer = await _live_offer(context, code_hash, issuer_id, now)
        if offer is not None and offer.tx_code_hash is None:
            raise InvalidRequest("this offer has no transaction code")
        raise InvalidGrant("the pre-authorized code is not valid")
    if counted.tx_code_hash is None or not same(
        counted.tx_code_hash, tx_code_hash(context.secret, counted.offer_id, tx_code)
    ):
        raise InvalidGrant("the transaction code is not correct")
    grant = AccessGrant(
        sha256_hex(token),
        counted.offer_id,
        issuer_id,
        now + lifetime,
        used=False,
        dpop_jkt=dpop_jkt,
    )
    OFFER_MOVES.check(counted.state, OfferState.REDEEMED)
    if await context.offers.redeem(code_hash, now, grant) is None:
        raise InvalidGrant("the pre-authorized code is not valid")
    return token_response(token, lifetime, dpop_jkt)


async def _live_offer(
    context: IssuerContext, code_hash: str, issuer_id: str, now: float
) -> Offer | None:
    """The agency's unredeemed, unexpired offer for this code, to name what the request lacks;
    anything else is simply an invalid code."""
    offer = await context.offers.get_by_code(code_hash)
    if (
        offer is None
        or offer.issuer_id != issuer_id
        or offer.effective_state(now) is not OfferState.OFFERED
    ):
        return None
    return offer


def token_response(token: str, lifetime: float, dpop_jkt: str | None) -> TokenResponse:
    """``token_type`` ``DPoP`` for a bound token (RFC 9449 §5), ``Bearer`` otherwise."""
    scheme = AccessTokenScheme.BEARER if dpop_jkt is None else AccessTokenScheme.DPOP
    return TokenResponse(access_token=token, token_type=scheme.value, expires_in=int(lifetime))
