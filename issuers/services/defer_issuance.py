"""Deferred issuance at the Credential Endpoint (OpenID4VCI 1.0 §8.3): for a credential a
clerk approves first, the request passes every check an immediate issuance makes (access
token, configuration, key proofs and key attestations, ``c_nonce``), and then, instead of
signing, leaves an application for the agency's clerks: what would be issued, for whom, and
the verified holder keys, so that nothing has to be asked of the wallet again.

The application is recorded in the transaction that uses the access grant and the
``c_nonce`` values up, and the wallet is answered 202 with a ``transaction_id`` (256 random
bits, of which only the hash is kept) and the agency's ``interval``. The 202 answer is kept
like any credential response, so that a repeat of a request whose answer was lost learns
its ``transaction_id`` again.
"""

from __future__ import annotations

import uuid

from core.errors import InvalidNonce
from core.oid4vci import CredentialResponse
from issuers.domain import Application, ApplicationState, DeliveredResponse, NonceReused
from issuers.ports import GrantWork
from issuers.services.codes import random_token, sha256_hex
from issuers.services.context import IssuerContext
from issuers.services.delivered_responses import request_fingerprint, seal_response
from issuers.services.proofs import VerifiedProof
from issuers.services.register_reads import register_reads


async def defer_issuance(
    context: IssuerContext,
    issuer_id: str,
    *,
    work: GrantWork,
    access_token: str,
    proofs: list[VerifiedProof],
    nonces: list[tuple[str, float]],
    now: float,
) -> CredentialResponse:
    """The 202 answer (§8.3); the application recorded in ``work``'s transaction."""
    policy = context.agency(issuer_id).deferred_issuance
    offer, grant = work.offer, work.grant
    transaction_id = random_token()
    application = Application(
        application_id=uuid.uuid4().hex,
        issuer_id=issuer_id,
        offer_id=offer.offer_id,
        configuration_id=offer.configuration_id,
        subject_id=offer.subject_id,
        claims=dict(offer.claims),
        holder_keys=tuple(proof.jwk for proof in proofs),
        transaction_hash=sha256_hex(transaction_id),
        token_hash=grant.token_hash,
        notification_id=uuid.uuid4().hex,
        dpop_jkt=grant.dpop_jkt,
        state=ApplicationState.PENDING,
        created_at=now,
        expires_at=now + policy.application_lifetime,
    )
    try:
        await work.defer(application, nonces)
    except NonceReused:
        raise InvalidNonce(
            "the c_nonce was used already; fetch a fresh one from the nonce endpoint"
        ) from None
    response = CredentialResponse(
        transaction_id=transaction_id,
        interval=policy.interval,
        # the register was read for this offer already: the wallet may say so now
        register_reads=register_reads(context.agency(issuer_id), offer),
    )
    await work.remember_response(
        DeliveredResponse(
            token_hash=grant.token_hash,
            fingerprint=request_fingerprint(issuer_id, offer.configuration_id, proofs),
            sealed=seal_response(access_token, grant.token_hash, response),
            expires_at=grant.expires_at,
        )
    )
    return response
