"""The Request URI endpoint (OpenID4VP 1.0 §5.10, RFC 9101): the signed request object
of one transaction, by GET or by POST (§5.10.1 ``wallet_metadata``/``wallet_nonce``).

Served until the transaction is answered or expires: some wallets fetch a request object
twice (the conformance suite tests exactly that), and each fetch is signed afresh, so a
POST carrying a new ``wallet_nonce`` gets an object with that nonce (§5.10.1). The answer
itself stays single-use. A request offered with ``request_uri_method=post`` is served to a
GET as well: a wallet that does not support POST sends one (§5.1) and may continue with
the signed object (§5). Header ``typ: oauth-authz-req+jwt`` with the ``x5c`` chain of the
relying party's access certificate (never the anchor); ``aud`` is
``https://self-issued.me/v2`` (§5.8, static discovery). The payload is
``core.oid4vp.AuthorizationRequest``, the struct wallets read it with.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from core.errors import InvalidRequest
from core.jose.jwk import JwkSet
from core.jose.jws import sign_compact
from core.mdoc import DEFAULT_COSE_ALGORITHMS
from core.messages import decode_message, to_plain
from core.oid4vp import (
    MAX_WALLET_METADATA,
    REQUEST_OBJECT_TYP,
    STATIC_AUDIENCE,
    AuthorizationRequest,
    ClientMetadata,
    RequestUriPost,
    VerifierInfo,
    WalletMetadata,
    named_client_metadata,
)
from verifiers.services.context import VerifierContext
from verifiers.services.registration import verifier_info
from verifiers.services.response_keys import CONTENT_ENCRYPTIONS, response_public_jwk

SIGNING_ALGORITHMS = ["ES256", "ES384", "ES512", "EdDSA"]
#: COSE algorithms of mdoc issuerAuth and deviceSignature (HAIP 1.0: ES256, ESP256).
COSE_ALGORITHMS = sorted(DEFAULT_COSE_ALGORITHMS)


class RequestGone(LookupError):
    """Unknown, answered or expired: the wallet must stop (§5.10.2)."""


def _wallet_parameters(posted: RequestUriPost | None) -> str | None:
    """Validate what a POSTing wallet sent; returns its ``wallet_nonce``."""
    if posted is None:
        return None
    if not isinstance(posted.wallet_metadata, UnsetType):
        try:
            decode_message(posted.wallet_metadata, WalletMetadata, max_bytes=MAX_WALLET_METADATA)
        except InvalidRequest as exc:
            raise InvalidRequest(f"wallet_metadata is not acceptable: {exc.description}") from exc
    return None if isinstance(posted.wallet_nonce, UnsetType) else posted.wallet_nonce


def client_metadata(
    context: VerifierContext, verifier_id: str, response_mode: str, request_id: str
) -> dict[str, Any]:
    """§11.1 ``vp_formats_supported`` (B.2.1 for mdoc); the relying party's name per
    locale (RFC 7591 §2.2 ``client_name#locale``) for the wallet's consent screen; for
    ``direct_post.jwt`` the transaction's own encryption key and both content encryptions
    (HAIP)."""
    party = context.party(verifier_id)
    english = next((d.text for d in party.display if d.locale.split("-")[0] == "en"), None)
    metadata = ClientMetadata(
        client_name=english or party.display[0].text,
        vp_formats_supported={
            "dc+sd-jwt": {
                "sd-jwt_alg_values": SIGNING_ALGORITHMS,
                "kb-jwt_alg_values": SIGNING_ALGORITHMS,
            },
            "mso_mdoc": {  # B.2.1
                "issuerauth_alg_values": COSE_ALGORITHMS,
                "deviceauth_alg_values": COSE_ALGORITHMS,
            },
        },
    )
    if response_mode == "direct_post.jwt":
        metadata.jwks = JwkSet(keys=[response_public_jwk(context.secret, request_id)])
        metadata.encrypted_response_enc_values_supported = list(CONTENT_ENCRYPTIONS)
    return named_client_metadata(metadata, {d.locale: d.text for d in party.display})


async def request_object(
    context: VerifierContext,
    verifier_id: str,
    request_id: str,
    *,
    posted: RequestUriPost | None = None,
) -> str:
    context.party(verifier_id)
    wallet_nonce = _wallet_parameters(posted)
    now = context.clock.now()
    transaction = await context.transactions.mark_request_fetched(
        verifier_id, request_id, now, wallet_nonce
    )
    if transaction is None:
        raise RequestGone(request_id)
    info = await verifier_info(context, context.party(verifier_id), transaction.client_id)
    request = AuthorizationRequest(
        iss=transaction.client_id,
        aud=STATIC_AUDIENCE,
        iat=int(now),
        exp=int(transaction.expires_at),
        client_id=transaction.client_id,
        response_type="vp_token",
        response_mode=transaction.response_mode,
        response_uri=context.response_uri(verifier_id, request_id),
        nonce=transaction.nonce,
        state=transaction.state,
        dcql_query=transaction.dcql_query,
        client_metadata=client_metadata(
            context, verifier_id, transaction.response_mode, request_id
        ),
        wallet_nonce=UNSET if wallet_nonce is None else wallet_nonce,
        verifier_info=UNSET if info is None else msgspec.convert(info, list[VerifierInfo]),
    )
    signer = await context.keys.signer(verifier_id)
    return sign_compact(
        to_plain(request), signer, typ=REQUEST_OBJECT_TYP, include_kid=False, include_x5c=True
    )
