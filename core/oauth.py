"""OAuth 2.0 messages this deployment sends and reads: the token request and response
(RFC 6749 §4.1.3, §5.1, with the pre-authorized code grant of OpenID4VCI 1.0 §6.1), the
error response (RFC 6749 §5.2), and Authorization Server Metadata (RFC 8414 §2, with the
members of OpenID4VCI 1.0 §12.3, RFC 9126 §5, RFC 9449 §5.1 and RFC 9207 §3)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from core.errors import InvalidRequest
from core.messages import Message

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"

#: Printable ASCII without ``"`` and ``\`` (RFC 6749 §5.2 error_description).
ERROR_DESCRIPTION_PATTERN = r"^[\x20\x21\x23-\x5B\x5D-\x7E]*$"
_Code = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class TokenRequest(Message):
    """RFC 6749 §4.1.3 and OpenID4VCI 1.0 §6.1, form-encoded. Parameters this
    deployment does not use are ignored (RFC 6749 §3.2)."""

    malformed = InvalidRequest

    grant_type: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    pre_authorized_code: _Code | UnsetType = msgspec.field(
        default=UNSET, name="pre-authorized_code"
    )
    tx_code: Annotated[str, msgspec.Meta(max_length=1024)] | UnsetType = UNSET
    code: _Code | UnsetType = UNSET
    redirect_uri: Annotated[str, msgspec.Meta(max_length=2048)] | UnsetType = UNSET
    code_verifier: Annotated[str, msgspec.Meta(max_length=128)] | UnsetType = UNSET
    client_id: Annotated[str, msgspec.Meta(max_length=256)] | UnsetType = UNSET


class TokenResponse(Message):
    """RFC 6749 §5.1."""

    access_token: str
    token_type: str
    expires_in: int | UnsetType = UNSET
    refresh_token: str | UnsetType = UNSET
    scope: str | UnsetType = UNSET


class ErrorResponse(Message):
    """RFC 6749 §5.2, and every error body of the OAuth family (RFC 6750 §3,
    OpenID4VCI 1.0 §8.3.1, OpenID4VP 1.0 §8.5)."""

    error: Annotated[str, msgspec.Meta(pattern=r"^[\x20\x21\x23-\x5B\x5D-\x7E]+$")]
    error_description: (
        Annotated[str, msgspec.Meta(pattern=ERROR_DESCRIPTION_PATTERN)] | UnsetType
    ) = UNSET
    error_uri: str | UnsetType = UNSET


_Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
_Names = Annotated[list[str], msgspec.Meta(min_length=1)]


class AuthorizationServerMetadata(Message, kw_only=True):
    """RFC 8414 §2. ``response_types_supported`` is required there, but an authorization
    server of the pre-authorized code grant alone may leave it out (OpenID4VCI 1.0 §12.3).
    Unrecognized members are ignored (RFC 8414 §3.2)."""

    issuer: _Url
    authorization_endpoint: _Url | UnsetType = UNSET
    token_endpoint: _Url | UnsetType = UNSET
    jwks_uri: _Url | UnsetType = UNSET
    scopes_supported: _Names | UnsetType = UNSET
    response_types_supported: _Names | UnsetType = UNSET
    response_modes_supported: _Names | UnsetType = UNSET
    grant_types_supported: _Names | UnsetType = UNSET
    token_endpoint_auth_methods_supported: _Names | UnsetType = UNSET
    token_endpoint_auth_signing_alg_values_supported: _Names | UnsetType = UNSET
    code_challenge_methods_supported: _Names | UnsetType = UNSET
    pushed_authorization_request_endpoint: _Url | UnsetType = UNSET
    require_pushed_authorization_requests: bool | UnsetType = UNSET
    dpop_signing_alg_values_supported: _Names | UnsetType = UNSET
    authorization_response_iss_parameter_supported: bool | UnsetType = UNSET
    authorization_details_types_supported: _Names | UnsetType = UNSET
    pre_authorized_grant_anonymous_access_supported: bool | UnsetType = msgspec.field(
        default=UNSET, name="pre-authorized_grant_anonymous_access_supported"
    )
