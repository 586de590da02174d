"""OAuth 2.0 messages this deployment sends and reads: the pushed authorization request
and its answer (RFC 9126 §2.1, §2.2, carrying an authorization request of RFC 6749
§4.1.1 with PKCE, RFC 7636 §4.3, and OpenID4VCI 1.0 §5.1), the authorization response
(RFC 6749 §4.1.2, with ``iss`` of RFC 9207 §2), the token request and response (RFC 6749
§4.1.3, §5.1, §6, with the pre-authorized code grant of OpenID4VCI 1.0 §6.1), the error
response (RFC 6749 §5.2), and Authorization Server Metadata (RFC 8414 §2, with the
members of OpenID4VCI 1.0 §12.3, RFC 9126 §5, RFC 9449 §5.1 and RFC 9207 §3)."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from core.encoding import StrictJsonError, b64url_encode, strict_json_loads
from core.errors import (
    InvalidAuthorizationDetails,
    InvalidRequest,
    RequestNotSupported,
    UnsupportedResponseType,
)
from core.messages import Message, convert_message

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
AUTHORIZATION_CODE_GRANT = "authorization_code"
REFRESH_TOKEN_GRANT = "refresh_token"  # noqa: S105 - a grant type (RFC 6749 §6), no secret
#: RFC 7636 §4.2: the code challenge method this deployment accepts (HAIP 1.0 §4: S256).
PKCE_METHOD = "S256"
#: RFC 7636 §4.1: 43 to 128 unreserved characters (a S256 challenge is 43 of them).
_PKCE_VALUE = Annotated[
    str, msgspec.Meta(min_length=43, max_length=128, pattern=r"^[A-Za-z0-9._~-]+$")
]
#: The ``authorization_details`` type of OpenID4VCI 1.0 §5.1.1.
OPENID_CREDENTIAL = "openid_credential"
#: Most bytes of an ``authorization_details`` value read before parsing.
MAX_AUTHORIZATION_DETAILS = 8 * 1024

#: Printable ASCII without ``"`` and ``\`` (RFC 6749 §5.2 error_description).
ERROR_DESCRIPTION_PATTERN = r"^[\x20\x21\x23-\x5B\x5D-\x7E]*$"
_Code = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class TokenRevocationRequest(Message):
    """RFC 7009 §2.1, form-encoded: the token the client wants revoked, with an optional
    hint of its type (``refresh_token`` or ``access_token``, §4.1.2)."""

    malformed = InvalidRequest

    token: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
    token_type_hint: Annotated[str, msgspec.Meta(max_length=64)] | UnsetType = UNSET


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
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)] | UnsetType = UNSET
    authorization_details: (
        Annotated[str, msgspec.Meta(max_length=MAX_AUTHORIZATION_DETAILS)] | UnsetType
    ) = UNSET

    def details(self) -> list[AuthorizationDetail]:
        """RFC 9396 §6.1: the ``authorization_details`` asked for at the token endpoint."""
        return read_authorization_details(self.authorization_details)


class AuthorizationDetail(Message):
    """OpenID4VCI 1.0 §5.1.1: one entry of ``authorization_details`` (RFC 9396 §2) of type
    ``openid_credential``; unknown data fields are ignored, as §5.1.1 says."""

    malformed = InvalidAuthorizationDetails

    type: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    credential_configuration_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    locations: Annotated[list[str], msgspec.Meta(min_length=1)] | UnsetType = UNSET
    claims: Annotated[list[dict[str, Any]], msgspec.Meta(min_length=1)] | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.type != OPENID_CREDENTIAL:
            raise ValueError(f"authorization details of type {self.type!r} are not supported")


class AuthorizedCredential(Message):
    """OpenID4VCI 1.0 §6.2: an ``authorization_details`` entry of the token response, with
    the ``credential_identifiers`` to use in Credential Requests."""

    type: str
    credential_configuration_id: str
    credential_identifiers: Annotated[list[str], msgspec.Meta(min_length=1)]


class TokenResponse(Message):
    """RFC 6749 §5.1, ``token_type`` ``DPoP`` for a sender-constrained token (RFC 9449
    §5), ``authorization_details`` of OpenID4VCI 1.0 §6.2."""

    access_token: str
    token_type: str
    expires_in: int | UnsetType = UNSET
    refresh_token: str | UnsetType = UNSET
    scope: str | UnsetType = UNSET
    authorization_details: list[AuthorizedCredential] | UnsetType = UNSET


def read_authorization_details(value: str | UnsetType) -> list[AuthorizationDetail]:
    """RFC 9396 §2: a JSON array of objects, each with a ``type``; read under the strict
    JSON profile. Types other than ``openid_credential`` are refused (§5)."""
    if isinstance(value, UnsetType):
        return []
    try:
        parsed = strict_json_loads(value.encode("utf-8"), max_bytes=MAX_AUTHORIZATION_DETAILS)
    except (StrictJsonError, UnicodeEncodeError) as exc:
        raise InvalidAuthorizationDetails(
            f"authorization_details is not acceptable JSON: {exc}"
        ) from None
    if not isinstance(parsed, list) or not parsed:
        raise InvalidAuthorizationDetails("authorization_details must be a non-empty array")
    return [convert_message(item, AuthorizationDetail) for item in parsed]


class PushedAuthorizationRequest(Message):
    """RFC 9126 §2.1: an authorization request (RFC 6749 §4.1.1) pushed by the client,
    form-encoded. This authorization server asks for PKCE with S256 (RFC 7636 §4.3; HAIP
    1.0 §4), the credentials by ``scope`` or ``authorization_details`` (OpenID4VCI 1.0
    §5.1.1, §5.1.2), and takes the offer's ``issuer_state`` (§5.1.3). A request object
    (``request``) is not supported, and a ``request_uri`` must not be pushed (RFC 9126
    §2.1). Other parameters are ignored (RFC 6749 §3.1)."""

    malformed = InvalidRequest

    response_type: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    client_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    redirect_uri: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    code_challenge: _PKCE_VALUE | UnsetType = UNSET
    code_challenge_method: Annotated[str, msgspec.Meta(max_length=16)] | UnsetType = UNSET
    scope: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)] | UnsetType = UNSET
    state: Annotated[str, msgspec.Meta(min_length=1, max_length=512)] | UnsetType = UNSET
    authorization_details: (
        Annotated[str, msgspec.Meta(max_length=MAX_AUTHORIZATION_DETAILS)] | UnsetType
    ) = UNSET
    issuer_state: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)] | UnsetType = UNSET
    #: RFC 9449 §10: the thumbprint of the DPoP key the code is to be bound to.
    dpop_jkt: Annotated[str, msgspec.Meta(min_length=43, max_length=43)] | UnsetType = UNSET
    request_uri: Annotated[str, msgspec.Meta(max_length=2048)] | UnsetType = UNSET
    request: Annotated[str, msgspec.Meta(max_length=64 * 1024)] | UnsetType = UNSET

    def check(self) -> None:
        if not isinstance(self.request_uri, UnsetType):
            raise InvalidRequest("request_uri must not be pushed (RFC 9126 §2.1)")
        if not isinstance(self.request, UnsetType):
            raise RequestNotSupported("request objects are not supported; push the parameters")
        if self.response_type != "code":
            raise UnsupportedResponseType("only the authorization code flow (code) is offered")
        if isinstance(self.code_challenge, UnsetType):
            raise InvalidRequest("PKCE is required: send code_challenge with S256")
        if self.code_challenge_method != PKCE_METHOD:
            raise InvalidRequest("code_challenge_method must be S256")
        if isinstance(self.scope, UnsetType) and isinstance(self.authorization_details, UnsetType):
            raise InvalidRequest("ask for a credential with scope or authorization_details")
        self.details()

    def details(self) -> list[AuthorizationDetail]:
        return read_authorization_details(self.authorization_details)

    def scopes(self) -> list[str]:
        """RFC 6749 §3.3: space-delimited."""
        return [] if isinstance(self.scope, UnsetType) else self.scope.split()


class PushedAuthorizationResponse(Message):
    """RFC 9126 §2.2."""

    request_uri: str
    expires_in: Annotated[int, msgspec.Meta(gt=0)]


class AuthorizationCodeResponse(Message):
    """RFC 6749 §4.1.2 with ``iss`` (RFC 9207 §2), as query parameters of the redirect."""

    code: str
    iss: str
    state: str | UnsetType = UNSET


class AuthorizationErrorResponse(Message):
    """RFC 6749 §4.1.2.1 with ``iss`` (RFC 9207 §2)."""

    error: Annotated[str, msgspec.Meta(pattern=r"^[\x20\x21\x23-\x5B\x5D-\x7E]+$")]
    iss: str
    error_description: (
        Annotated[str, msgspec.Meta(pattern=ERROR_DESCRIPTION_PATTERN)] | UnsetType
    ) = UNSET
    state: str | UnsetType = UNSET


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
    #: RFC 7009 §2 (registered in RFC 8414 §2).
    revocation_endpoint: _Url | UnsetType = UNSET
    revocation_endpoint_auth_methods_supported: _Names | UnsetType = UNSET
    require_pushed_authorization_requests: bool | UnsetType = UNSET
    dpop_signing_alg_values_supported: _Names | UnsetType = UNSET
    authorization_response_iss_parameter_supported: bool | UnsetType = UNSET
    authorization_details_types_supported: _Names | UnsetType = UNSET
    #: OAuth 2.0 Attestation-Based Client Authentication (draft -07 §10.2, -10 §11).
    client_attestation_signing_alg_values_supported: _Names | UnsetType = UNSET
    client_attestation_pop_signing_alg_values_supported: _Names | UnsetType = UNSET
    pre_authorized_grant_anonymous_access_supported: bool | UnsetType = msgspec.field(
        default=UNSET, name="pre-authorized_grant_anonymous_access_supported"
    )


#: RFC 7636 §4.1: a code verifier is 43 to 128 unreserved characters.
_CODE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def pkce_s256_challenge(code_verifier: str) -> str:
    """RFC 7636 §4.2: ``BASE64URL(SHA256(ASCII(code_verifier)))``."""
    return b64url_encode(hashlib.sha256(code_verifier.encode("ascii")).digest())


def pkce_challenge_of(code_verifier: str | UnsetType) -> str | None:
    """RFC 7636 §4.6: the S256 challenge a well-formed verifier hashes to; None for a
    missing or malformed one, which matches no challenge."""
    if isinstance(code_verifier, UnsetType) or not _CODE_VERIFIER.fullmatch(code_verifier):
        return None
    return pkce_s256_challenge(code_verifier)


def pkce_matches(code_verifier: str | UnsetType, code_challenge: str) -> bool:
    """RFC 7636 §4.6: the verifier is well formed and hashes to the S256 challenge kept
    with the code (compared in constant time)."""
    challenge = pkce_challenge_of(code_verifier)
    return challenge is not None and hmac.compare_digest(challenge, code_challenge)
