"""Token revocation (RFC 7009): the wallet tells the agency it no longer wants a refresh
token used — the citizen removed the credential, or the device — and the whole family of
that token ends (RFC 7009 §2.1: revoking a refresh token may revoke what it gave; here
the access tokens of the family run out by themselves within minutes). An access token
presented here is used up (its credential request can no longer be made).

Possession of the token is what the wallet proves (the client is public; a refresh token
is of no use to anyone else without the wallet's DPoP key, and revoking it harms only its
holder, §5). The answer is the same whether or not the token was known (§2.2), so the
endpoint tells nobody which tokens exist.
"""

from __future__ import annotations

from msgspec import UnsetType

from core.errors import UnsupportedTokenType
from core.oauth import REFRESH_TOKEN_GRANT, TokenRevocationRequest
from issuers.domain import AuditEvent
from issuers.services.codes import sha256_hex
from issuers.services.context import IssuerContext

ACCESS_TOKEN_HINT = "access_token"  # noqa: S105 - a token type hint, no secret
TOKEN_TYPE_HINTS = (REFRESH_TOKEN_GRANT, ACCESS_TOKEN_HINT)


async def revoke_token(
    context: IssuerContext, issuer_id: str, request: TokenRevocationRequest
) -> None:
    context.agency(issuer_id)
    hint = request.token_type_hint
    if not isinstance(hint, UnsetType) and hint not in TOKEN_TYPE_HINTS:
        raise UnsupportedTokenType(f"this agency revokes {' and '.join(TOKEN_TYPE_HINTS)}s")
    token_hash = sha256_hex(request.token)
    refresh = await context.refresh_tokens.get(token_hash)
    if refresh is not None and refresh.issuer_id == issuer_id:
        ended = await context.refresh_tokens.revoke_family(refresh.family_id)
        await context.audit.record(
            AuditEvent(
                issuer_id=issuer_id,
                at=context.clock.now(),
                actor=f"wallet {refresh.client_id}"[:100],
                action="credential.refresh",
                object_id=refresh.family_id,
                outcome="family ended",
                detail=f"{refresh.configuration_id}: revoked by the wallet, {ended} tokens",
            )
        )
        return
    grant = await context.grants.get(token_hash)
    if grant is not None and grant.issuer_id == issuer_id and grant.offer_id:
        await context.grants.revoke_for_offer(grant.offer_id)
