"""The Nonce Endpoint (OpenID4VCI 1.0 §7): single-use ``c_nonce`` values with a lifetime."""

from __future__ import annotations

from issuers.services.codes import random_token, sha256_hex
from issuers.services.context import IssuerContext


async def new_c_nonce(context: IssuerContext, issuer_id: str) -> str:
    context.agency(issuer_id)
    nonce = random_token()
    expires_at = context.clock.now() + context.policy.nonce_lifetime
    await context.nonces.add(sha256_hex(nonce), issuer_id, expires_at)
    return nonce


async def consume_c_nonce(context: IssuerContext, issuer_id: str, nonce: str) -> bool:
    if len(nonce) > 128:
        return False
    return await context.nonces.consume(sha256_hex(nonce), issuer_id, context.clock.now())
