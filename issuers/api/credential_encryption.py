"""The Credential Endpoint's encrypted alternatives over HTTP (OpenID4VCI 1.0 §10): a
request body that is a compact JWE (``Content-Type: application/jwt``), opened before the
request is read as its message (``app.typed_bodies`` calls ``open_encrypted_body`` through
the handler's ``opt["encrypted_body"]``); a response that is a compact JWE to the
wallet's key; and both alternatives in the OpenAPI document, beside the JSON ones the
framework describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.openapi.spec import RequestBody as OpenAPIRequestBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED
from msgspec import UNSET

from core.oid4vci import CredentialResponse
from core.oid4vci_encryption import JWT_MEDIA_TYPE, ResponseEncryption
from issuers.api.requests import issuer_context, known_agency
from issuers.services.credential_encryption import (
    encrypt_credential_response,
    open_credential_request,
)

#: A compact JWE (RFC 7516 §7.1): five base64url parts, the second (the encrypted key)
#: empty with ECDH-ES.
COMPACT_JWE_PATTERN = (
    r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$"
)

ENCRYPTION_DESCRIPTION = (
    "The request is a Credential Request as JSON (application/json), or the same encrypted "
    "to the agency (application/jwt, OpenID4VCI 1.0 §10): a compact JWE with alg ECDH-ES, "
    "an enc of credential_request_encryption.enc_values_supported and the kid of the key in "
    "credential_request_encryption.jwks of the agency's metadata, whose plaintext is the "
    "request's JSON. A request that carries credential_response_encryption (a public P-256 "
    "jwk with alg ECDH-ES, and enc A128GCM or A256GCM) must be encrypted (§8.2) and is "
    "answered with the Credential Response as a compact JWE to that key (application/jwt; "
    "the jwk's kid, if any, in the JWE header). An agency whose metadata says "
    "encryption_required takes only such requests. Errors are never encrypted; refused "
    "encryption is invalid_encryption_parameters (§8.3.1.2)."
)

#: The 200 answer: the JSON the framework describes from the message; ``EncryptedAlternatives``
#: adds the JWE.
CREDENTIAL_ANSWER = ResponseSpec(
    CredentialResponse,
    generate_examples=False,
    description="The credentials as JSON, or, for a request with "
    "credential_response_encryption, the same as a compact JWE (application/jwt)",
)


def _compact_jwe(description: str) -> OpenAPIMediaType:
    return OpenAPIMediaType(
        schema=Schema(type=OpenAPIType.STRING, pattern=COMPACT_JWE_PATTERN, description=description)
    )


@dataclass
class EncryptedAlternatives(Operation):
    """An operation whose request body and 200 (and 202) responses may also be compact
    JWEs."""

    def __post_init__(self) -> None:
        body = self.request_body
        answers = [
            answer
            for status, answer in (self.responses or {}).items()
            if status in ("200", "202") and isinstance(answer, OpenAPIResponse)
        ]
        if not isinstance(body, OpenAPIRequestBody) or not answers:
            raise LookupError(f"{self.operation_id} documents no request body or 200 response")
        body.content[JWT_MEDIA_TYPE] = _compact_jwe(
            "The request's JSON, encrypted to the agency's key (OpenID4VCI 1.0 §10)"
        )
        for answer in answers:
            answer.content = {
                **(answer.content or {}),
                JWT_MEDIA_TYPE: _compact_jwe(
                    "The response's JSON, encrypted to the key of "
                    "credential_response_encryption (OpenID4VCI 1.0 §10)"
                ),
            }


async def open_encrypted_body(request: Request[Any, Any, Any], body: bytes) -> bytes:
    """The plaintext of an encrypted Credential Request to the agency of the path."""
    context = issuer_context(request.app.state)
    issuer_id = str(request.path_params["issuer_id"])
    known_agency(context, issuer_id)
    return await open_credential_request(context, issuer_id, body)


def arrived_encrypted(request: Request[Any, Any, Any]) -> bool:
    """Whether the body was a compact JWE (the only other body the endpoint takes)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == JWT_MEDIA_TYPE


def credential_answer(
    response: CredentialResponse,
    encryption: ResponseEncryption | None,
    headers: dict[str, str],
) -> Response[Any]:
    """The Credential Response as JSON, or as a compact JWE where the request asked so;
    200 with credentials, 202 with a ``transaction_id`` and ``interval`` while they are
    deferred (§8.3, §9.2), encrypted alike (§10)."""
    status = HTTP_202_ACCEPTED if response.transaction_id is not UNSET else HTTP_200_OK
    if encryption is None:
        return Response(response, status_code=status, headers=headers)
    return Response(
        encrypt_credential_response(response, encryption),
        status_code=status,
        media_type=JWT_MEDIA_TYPE,
        headers=headers,
    )
