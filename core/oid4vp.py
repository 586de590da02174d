"""OpenID4VP 1.0 messages a verifier receives from a wallet, form-encoded: the POST to the
request URI (§5.10.1: ``wallet_metadata``, ``wallet_nonce``) and the Authorization
Response at the Response URI (§8.2 ``direct_post``: ``vp_token`` and ``state``; §8.3.1
``direct_post.jwt``: ``response``, a JWE; §8.5: ``error``). Unrecognized parameters are
ignored (RFC 6749 §3.2 as OpenID4VP builds on it); a repeated one is malformed."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from core.errors import InvalidRequest
from core.messages import Message

MAX_WALLET_METADATA = 16 * 1024
MAX_WALLET_NONCE = 256


class RequestUriPost(Message):
    """§5.10.1: what a wallet may send when it fetches the request object by POST."""

    malformed = InvalidRequest

    wallet_metadata: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=MAX_WALLET_METADATA, description="A JSON object (§10), as a string."
            ),
        ]
        | UnsetType
    ) = UNSET
    wallet_nonce: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_WALLET_NONCE)] | UnsetType
    ) = UNSET


class AuthorizationResponse(Message):
    """§8.2, §8.3.1, §8.5, as posted to the Response URI."""

    malformed = InvalidRequest

    vp_token: (
        Annotated[
            str,
            msgspec.Meta(description="A JSON object keyed by credential query id, as a string."),
        ]
        | UnsetType
    ) = UNSET
    state: str | UnsetType = UNSET
    response: (
        Annotated[
            str, msgspec.Meta(description="direct_post.jwt: the response parameters in a JWE.")
        ]
        | UnsetType
    ) = UNSET
    error: str | UnsetType = UNSET
    error_description: str | UnsetType = UNSET


class ResponseUriAnswer(Message):
    """§8.2: the verifier's answer to what the wallet posted: a ``redirect_uri`` to send
    the user on to (same-device flows), or an error (§8.5)."""

    redirect_uri: str | UnsetType = UNSET
    error: Annotated[str, msgspec.Meta(max_length=64)] | UnsetType = UNSET
    error_description: Annotated[str, msgspec.Meta(max_length=300)] | UnsetType = UNSET
