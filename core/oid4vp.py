"""OpenID4VP 1.0 messages. The Authorization Request (§5), which a verifier signs as a
request object (RFC 9101) and a wallet reads; what a verifier receives from a wallet,
form-encoded: the POST to the request URI (§5.10.1: ``wallet_metadata``,
``wallet_nonce``) and the Authorization Response at the Response URI (§8.2
``direct_post``: ``vp_token`` and ``state``; §8.3.1 ``direct_post.jwt``: ``response``, a
JWE; §8.5: ``error``); and the verifier's answer to that post (§8.2). Unrecognized
parameters are ignored (§5; RFC 6749 §3.2 as OpenID4VP builds on it); a repeated one is
malformed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from core.errors import InvalidRequest, InvalidRequestObject
from core.jose.jwk import JwkSet
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


# §5 Authorization Request ------------------------------------------------------------

#: RFC 9101 §10.8 as OpenID4VP 1.0 §5 requires it of every request object.
REQUEST_OBJECT_TYP = "oauth-authz-req+jwt"
#: §5.8: the ``aud`` of a request object under static discovery.
STATIC_AUDIENCE = "https://self-issued.me/v2"
#: §8.2 and §8.3.1: the response modes that post the response to a ``response_uri``.
DIRECT_POST_MODES = frozenset({"direct_post", "direct_post.jwt"})
#: §5.2: what ``nonce`` and ``state`` may hold (ASCII URL safe characters).
URL_SAFE = "^[A-Za-z0-9._~-]+$"
MAX_NONCE = 512
MAX_STATE = 2048

_Uri = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
_QueryId = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
_NumericDate = Annotated[int, msgspec.Meta(ge=0)] | Annotated[float, msgspec.Meta(ge=0)]
#: The members that are claims of the request object itself (RFC 9101 §4, OpenID4VP 1.0
#: §5, §5.8, §5.10.1); a misfit there is an invalid request object, not a bad parameter.
_REQUEST_OBJECT_CLAIMS = ("client_id", "iss", "aud", "iat", "exp", "wallet_nonce")


class VerifierInfo(Message):
    """§5.1 ``verifier_info``: one attestation about the verifier (§5.11)."""

    format: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    data: str | dict[str, Any]
    credential_ids: Annotated[list[_QueryId], msgspec.Meta(min_length=1)] | UnsetType = UNSET


class WalletMetadata(Message):
    """§10 (Wallet Metadata, RFC 8414 parameters): what a wallet tells a verifier of itself
    when it fetches a request object by POST (§5.10.1 ``wallet_metadata``). Unrecognized
    parameters are ignored (§10.1)."""

    malformed = InvalidRequest

    vp_formats_supported: dict[str, dict[str, Any]]
    client_id_prefixes_supported: Annotated[list[str], msgspec.Meta(min_length=1)] | UnsetType = (
        UNSET
    )
    request_object_signing_alg_values_supported: (
        Annotated[list[str], msgspec.Meta(min_length=1)] | UnsetType
    ) = UNSET
    response_modes_supported: Annotated[list[str], msgspec.Meta(min_length=1)] | UnsetType = UNSET
    jwks: JwkSet | UnsetType = UNSET
    authorization_encryption_alg_values_supported: (
        Annotated[list[str], msgspec.Meta(min_length=1)] | UnsetType
    ) = UNSET
    authorization_encryption_enc_values_supported: (
        Annotated[list[str], msgspec.Meta(min_length=1)] | UnsetType
    ) = UNSET


class ClientMetadata(Message):
    """§5.1 ``client_metadata``: what the verifier says of itself, with the members of §11.1
    (``vp_formats_supported``) and §8.3 (``jwks``, ``encrypted_response_enc_values_supported``
    for encrypted responses) and its name (RFC 7591 §2). The name per language
    (``client_name#de``, RFC 7591 §2.2) cannot be a field: ``client_names`` reads it."""

    malformed = InvalidRequest

    client_name: Annotated[str, msgspec.Meta(max_length=1000)] | UnsetType = UNSET
    vp_formats_supported: dict[str, dict[str, Any]] | UnsetType = UNSET
    jwks: JwkSet | UnsetType = UNSET
    encrypted_response_enc_values_supported: (
        Annotated[list[str], msgspec.Meta(min_length=1)] | UnsetType
    ) = UNSET


def client_names(client_metadata: Mapping[str, Any]) -> dict[str, str]:
    """The verifier's name by language tag (RFC 7591 §2.2 ``client_name#<tag>``)."""
    return {
        key.removeprefix("client_name#"): value
        for key, value in client_metadata.items()
        if key.startswith("client_name#") and isinstance(value, str)
    }


def named_client_metadata(metadata: ClientMetadata, names: Mapping[str, str]) -> dict[str, Any]:
    """``metadata`` as plain JSON with the name in each language (RFC 7591 §2.2)."""
    plain: dict[str, Any] = msgspec.to_builtins(metadata)
    plain.update({f"client_name#{tag}": name for tag, name in names.items()})
    return plain


class AuthorizationRequest(Message, kw_only=True):
    """§5: the Authorization Request, as the payload of a signed request object (RFC 9101
    §4) or as the parameters of an unsigned one. §5.1 and §5.2 name the members; the JAR
    claims are ``iss`` (ignored, §5), ``aud`` (§5.8), ``iat`` and ``exp``; ``wallet_nonce``
    echoes what the wallet posted to the request URI (§5.10.1). Unrecognized members are
    ignored (§5), except ``transaction_data``, which a wallet that does not support it must
    refuse: it is read so that it can be.

    ``check()``: exactly one of ``dcql_query`` and ``scope`` (§5.1); a ``response_uri`` with
    the ``direct_post`` modes, and never a ``redirect_uri`` beside a ``response_uri``
    (§8.2, ``invalid_request``)."""

    malformed = InvalidRequest

    client_id: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    response_type: Literal["vp_token"]
    response_mode: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=64,
                description=(
                    "§5.2; direct_post or direct_post.jwt to answer at a response_uri "
                    "(§8.2, §8.3.1); fragment when absent (§5.6)."
                ),
            ),
        ]
        | UnsetType
    ) = UNSET
    response_uri: _Uri | UnsetType = UNSET
    redirect_uri: _Uri | UnsetType = UNSET
    nonce: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NONCE, pattern=URL_SAFE)]
    state: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_STATE, pattern=URL_SAFE)]
        | UnsetType
    ) = UNSET
    dcql_query: dict[str, Any] | UnsetType = UNSET
    scope: Annotated[str, msgspec.Meta(max_length=2048)] | UnsetType = UNSET
    client_metadata: (
        Annotated[
            dict[str, Any],
            msgspec.Meta(description="Verifier metadata (§5.1, §11): jwks, vp_formats_supported…"),
        ]
        | UnsetType
    ) = UNSET
    transaction_data: (
        Annotated[list[Annotated[str, msgspec.Meta(min_length=1)]], msgspec.Meta(min_length=1)]
        | UnsetType
    ) = UNSET
    verifier_info: Annotated[list[VerifierInfo], msgspec.Meta(min_length=1)] | UnsetType = UNSET
    wallet_nonce: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_WALLET_NONCE)] | UnsetType
    ) = UNSET
    iss: str | UnsetType = UNSET
    aud: str | list[str] | UnsetType = UNSET
    iat: _NumericDate | UnsetType = UNSET
    exp: _NumericDate | UnsetType = UNSET

    @classmethod
    def rejection(cls, description: str) -> Exception:
        for claim in _REQUEST_OBJECT_CLAIMS:
            if description.startswith((f"$.{claim}:", f"$.{claim}[")) or description.endswith(
                f"missing the required member {claim}"
            ):
                return InvalidRequestObject(description)
        return InvalidRequest(description)

    def check(self) -> None:
        if self.dcql_query is UNSET and self.scope is UNSET:
            raise InvalidRequest("the request has no dcql_query")
        if self.dcql_query is not UNSET and self.scope is not UNSET:
            raise InvalidRequest("use dcql_query or scope, not both")
        if self.response_mode in DIRECT_POST_MODES and self.response_uri is UNSET:
            raise InvalidRequest(f"response_uri is required with {self.response_mode}")
        if self.redirect_uri is not UNSET and (
            self.response_uri is not UNSET or self.response_mode in DIRECT_POST_MODES
        ):
            raise InvalidRequest("redirect_uri must not be used with direct_post")
