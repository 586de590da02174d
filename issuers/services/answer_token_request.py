"""The token endpoint of an agency (RFC 6749 §3.2, OpenID4VCI 1.0 §6): which grant, and
what every grant checks first.

In this order, so a wallet that retries is never refused for a single-use value it spent
on a request that failed before: the presence of the wallet attestation where the agency
asks for one for the grant (HAIP 1.0 §4), the DPoP proof (RFC 9449 §5; required for the
authorization code grant, taken with the pre-authorized code; a proof without this
agency's nonce is answered ``use_dpop_nonce`` before its ``jti`` is spent), then the
wallet attestation and its PoP, then the single-use values of both (the proof's and the
PoP's ``jti``), then the grant itself. The authorization code grant uses them up in the
statement that redeems the code; the other grants on their own first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from msgspec import UnsetType

from core.errors import InvalidClient
from core.oauth import (
    AUTHORIZATION_CODE_GRANT,
    REFRESH_TOKEN_GRANT,
    TokenRequest,
    TokenResponse,
)
from core.replay import SingleUse
from issuers.services.authenticate_client import carries_client_attestation, checked_client
from issuers.services.context import IssuerContext
from issuers.services.exchange_authorization_code import exchange_authorization_code
from issuers.services.exchange_code import exchange_pre_authorized_code
from issuers.services.exchange_refresh_token import exchange_refresh_token
from issuers.services.sender_constraint import fresh_dpop_nonce, token_request_proof
from issuers.services.single_use import use_up_each

Headers = Iterable[tuple[str | bytes, str | bytes]]


@dataclass(frozen=True, slots=True)
class TokenAnswer:
    """The token response, and the nonce for the wallet's next DPoP proofs (sent as
    ``DPoP-Nonce``, RFC 9449 §8.2) when it used DPoP."""

    response: TokenResponse
    dpop_nonce: str | None


async def answer_token_request(
    context: IssuerContext,
    issuer_id: str,
    request: TokenRequest,
    *,
    dpop: tuple[str, ...],
    headers: Headers,
) -> TokenAnswer:
    """``dpop``: every ``DPoP`` header value of the request; ``headers``: all of them (the
    wallet attestation travels in its own)."""
    agency = context.agency(issuer_id)
    # the refresh token grant continues an authorization code flow, with its rules
    by_code = request.grant_type in (AUTHORIZATION_CODE_GRANT, REFRESH_TOKEN_GRANT)
    attested = (
        agency.attestation_for_authorization_code
        if by_code
        else agency.attestation_for_pre_authorized_code
    )
    headers = list(headers)
    if attested and not carries_client_attestation(headers):
        raise InvalidClient("a wallet attestation (attest_jwt_client_auth) is required")
    proof = token_request_proof(context, issuer_id, dpop, required=by_code)
    dpop_jkt = None if proof is None else proof.proof.jkt
    spend: list[SingleUse] = [] if proof is None else [proof.jti]
    if attested:
        client_id = None if isinstance(request.client_id, UnsetType) else request.client_id
        checked = checked_client(context, issuer_id, headers, client_id=client_id)
        spend.append(checked.pop_jti)
        if client_id is None:
            request.client_id = checked.client.client_id
    if request.grant_type == AUTHORIZATION_CODE_GRANT:
        response = await exchange_authorization_code(
            context, issuer_id, request, dpop_jkt=dpop_jkt, spend=spend
        )
    elif request.grant_type == REFRESH_TOKEN_GRANT:
        await use_up_each(context, spend)
        response = await exchange_refresh_token(context, issuer_id, request, dpop_jkt=dpop_jkt)
    else:
        await use_up_each(context, spend)
        response = await exchange_pre_authorized_code(
            context, issuer_id, request, dpop_jkt=dpop_jkt
        )
    nonce = None if proof is None else fresh_dpop_nonce(context, issuer_id)
    return TokenAnswer(response, nonce)
