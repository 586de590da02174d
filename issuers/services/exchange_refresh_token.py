"""The token endpoint for the refresh token grant (RFC 6749 §6; OpenID4VCI 1.0 §6; RFC
9700 §4.14): a wallet comes back for a fresh batch of a credential without the citizen
signing in again — how it keeps enough one-time credentials to present each only once.

An agency that gives refresh tokens (``Agency.refresh_token_lifetime``) gives one with
every access token of the authorization code flow. They are:

- bound to the wallet: the ``client_id`` of the authorization (its wallet attestation,
  where the agency asks for one) and the key of the DPoP proofs (RFC 9449 §5), so a
  copied token is of no use without the wallet's key;
- rotating: each exchange ends the token and gives its successor (one compare-and-set, so
  of racing exchanges one wins); a token presented again after its exchange is a reuse,
  and ends the whole family (RFC 9700 §4.14.2), as does the revocation of the credential
  or the citizen's request (``revoke_refresh_token``);
- never more than the register: each refresh makes a new offer of what the register holds
  for the citizen now, so a refreshed credential carries today's claims, and a citizen no
  longer in the register gets nothing (the family ends). Each is audited like an
  issuance (``offer.create`` from the register, ``credential.refresh``).
"""

from __future__ import annotations

import hmac
import uuid

from core.errors import (
    InvalidDpopProof,
    InvalidGrant,
    InvalidRequest,
    TemporarilyUnavailable,
    UnsupportedGrantType,
)
from core.oauth import REFRESH_TOKEN_GRANT, TokenRequest, TokenResponse
from issuers.domain import (
    OFFER_MOVES,
    REFRESH_MOVES,
    AccessGrant,
    AuditEvent,
    OfferState,
    RefreshState,
    RefreshToken,
    RegisterPurpose,
    RegisterUnavailable,
)
from issuers.services.codes import pre_authorized_code, random_token, sha256_hex
from issuers.services.context import IssuerContext
from issuers.services.exchange_code import token_response
from issuers.services.register_offers import register_offer

INVALID_REFRESH_TOKEN = "the refresh token is not valid"  # noqa: S105 - a message
MAX_REFRESH_TOKEN_LENGTH = 128


async def next_refresh_token(
    context: IssuerContext,
    issuer_id: str,
    *,
    family_id: str | None,
    configuration_id: str,
    subject_id: str,
    client_id: str,
    dpop_jkt: str,
    expires_at: float | None = None,
) -> str | None:
    """A new refresh token: the first of a family (``family_id`` None) or the successor in
    one. None where the agency gives no refresh tokens."""
    lifetime = context.agency(issuer_id).refresh_token_lifetime
    if lifetime <= 0:
        return None
    now = context.clock.now()
    token = random_token()
    await context.refresh_tokens.add(
        RefreshToken(
            token_hash=sha256_hex(token),
            family_id=family_id or str(uuid.uuid4()),
            issuer_id=issuer_id,
            configuration_id=configuration_id,
            subject_id=subject_id,
            client_id=client_id,
            dpop_jkt=dpop_jkt,
            state=RefreshState.ACTIVE,
            created_at=now,
            expires_at=now + lifetime if expires_at is None else expires_at,
        )
    )
    return token


async def exchange_refresh_token(
    context: IssuerContext, issuer_id: str, request: TokenRequest, *, dpop_jkt: str | None
) -> TokenResponse:
    """``dpop_jkt``: the key of the request's verified DPoP proof; the refresh token's
    binding requires one."""
    context.agency(issuer_id)
    if request.grant_type != REFRESH_TOKEN_GRANT:
        raise UnsupportedGrantType("this is the refresh token grant")
    presented = request.refresh_token
    if not isinstance(presented, str) or not 0 < len(presented) <= MAX_REFRESH_TOKEN_LENGTH:
        raise InvalidRequest("refresh_token is required")
    if dpop_jkt is None:
        raise InvalidDpopProof("a DPoP proof of the refresh token's key is required")
    now = context.clock.now()
    token = await context.refresh_tokens.get(sha256_hex(presented))
    if token is None or token.issuer_id != issuer_id:
        raise InvalidGrant(INVALID_REFRESH_TOKEN)
    if token.state is RefreshState.ROTATED:
        await _end_family(context, token, "reused")
        raise InvalidGrant(INVALID_REFRESH_TOKEN)
    if (
        token.state is not RefreshState.ACTIVE
        or token.expires_at <= now
        or request.client_id != token.client_id
        or not hmac.compare_digest(token.dpop_jkt.encode(), dpop_jkt.encode())
    ):
        raise InvalidGrant(INVALID_REFRESH_TOKEN)
    # the register first: a register that cannot be read now leaves the token as it was,
    # for the wallet to try again
    try:
        made = await register_offer(
            context,
            issuer_id,
            token.configuration_id,
            token.subject_id,
            actor=f"wallet {token.client_id}",
            outcome="refreshed",
            purpose=RegisterPurpose.REFRESH_CREDENTIAL,
        )
    except RegisterUnavailable as failed:
        raise TemporarilyUnavailable(
            "the agency's register could not be read; try again later",
            detail=f"register {failed.reason}: {failed.detail}"[:300],
        ) from failed
    REFRESH_MOVES.check(token.state, RefreshState.ROTATED)
    if not await context.refresh_tokens.rotate(token.token_hash, now):
        # another exchange of the same token won: this one is the reuse
        await _end_family(context, token, "reused")
        raise InvalidGrant(INVALID_REFRESH_TOKEN)
    if made is None:
        await _end_family(context, token, "the register no longer holds it")
        raise InvalidGrant("the agency no longer holds this credential for the citizen")
    offer, audit = made
    await context.offers.add(offer, audit=audit)
    offer_id = offer.offer_id
    access_token = random_token()
    lifetime = context.policy.access_token_lifetime
    grant = AccessGrant(
        sha256_hex(access_token), "", issuer_id, now + lifetime, used=False, dpop_jkt=dpop_jkt
    )
    OFFER_MOVES.check(OfferState.OFFERED, OfferState.REDEEMED)
    offer_code = pre_authorized_code(context.secret, offer_id)
    if await context.offers.redeem_without_tx_code(sha256_hex(offer_code), now, grant) is None:
        raise InvalidGrant(INVALID_REFRESH_TOKEN)
    successor = await next_refresh_token(
        context,
        issuer_id,
        family_id=token.family_id,
        configuration_id=token.configuration_id,
        subject_id=token.subject_id,
        client_id=token.client_id,
        dpop_jkt=token.dpop_jkt,
        expires_at=token.expires_at,
    )
    await _audit(context, token, "refreshed")
    response = token_response(access_token, lifetime, dpop_jkt)
    if successor is not None:
        response.refresh_token = successor
    return response


async def _end_family(context: IssuerContext, token: RefreshToken, why: str) -> None:
    await context.refresh_tokens.revoke_family(token.family_id)
    await _audit(context, token, "family ended", why)


async def _audit(
    context: IssuerContext, token: RefreshToken, outcome: str, why: str | None = None
) -> None:
    await context.audit.record(
        AuditEvent(
            issuer_id=token.issuer_id,
            at=context.clock.now(),
            actor=f"wallet {token.client_id}"[:100],
            action="credential.refresh",
            object_id=token.family_id,
            outcome=outcome,
            detail=token.configuration_id if why is None else f"{token.configuration_id}: {why}",
        )
    )
