"""The token endpoint of an agency (RFC 6749 §3.2, OpenID4VCI 1.0 §6): which grant, and
what every grant checks first.

In this order, so a wallet that retries is never refused for a single-use value it spent
on a request that failed before: the presence of the wallet attestation where the agency
asks for one for the grant (HAIP 1.0 §4), the DPoP proof (RFC 9449 §5; required for the
authorization code grant, taken with the pre-authorized code; a proof without this
agency's nonce is answered ``use_dpop_nonce`` before its ``jti`` is spent), then the
wallet attestation and its PoP, then the grant itself.
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
from issuers.services.authenticate_client import attested_client, carries_client_attestation
from issuers.services.context import IssuerContext
from issuers.services.exchange_authorization_code import exchange_authorization_code
from issuers.services.exchange_code import exchange_pre_authorized_code
from issuers.services.exchange_refresh_token import exchange_refresh_token
from issuers.services.sender_constraint import fresh_dpop_nonce, token_request_proof

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
    proof = await token_request_proof(context, issuer_id, dpop, required=by_code)
    dpop_jkt = None if proof is None else proof.jkt
    if attested:
        client_id = None if isinstance(request.client_id, UnsetType) else request.client_id
        client = await attested_client(context, issuer_id, headers, client_id=client_id)
        if client_id is None:
            request.client_id = client.client_id
    if request.grant_type == REFRESH_TOKEN_GRANT:
        response = await exchange_refresh_token(context, issuer_id, request, dpop_jkt=dpop_jkt)
    elif by_code:
        response = await exchange_authorization_code(context, issuer_id, request, dpop_jkt=dpop_jkt)
    else:
        response = await exchange_pre_authorized_code(
            context, issuer_id, request, dpop_jkt=dpop_jkt
        )
    nonce = None if proof is None else fresh_dpop_nonce(context, issuer_id)
    return TokenAnswer(response, nonce)
