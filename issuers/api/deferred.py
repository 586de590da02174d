"""The Deferred Credential Endpoint of every agency (OpenID4VCI 1.0 §9): with the access
token of the credential request, presented as it is bound (DPoP, RFC 9449 §7), the
request encrypted or not and the answer encrypted where asked (§10), as at the Credential
Endpoint."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from core.oid4vci import CredentialResponse, DeferredCredentialRequest
from issuers.api.credential_encryption import (
    CREDENTIAL_ANSWER,
    ENCRYPTION_DESCRIPTION,
    EncryptedAlternatives,
    arrived_encrypted,
    credential_answer,
    open_encrypted_body,
)
from issuers.api.requests import (
    ACCESS_TOKEN,
    ISSUER_CONTEXT,
    MAX_JSON_BYTES,
    known_agency,
    require_access_token,
)
from issuers.services.context import IssuerContext
from issuers.services.credential_encryption import response_encryption
from issuers.services.fetch_deferred_credential import fetch_deferred_credential
from issuers.services.sender_constraint import ProtectedRequest, fresh_dpop_nonce

NO_STORE = {"Cache-Control": "no-store"}
MAX_ACCESS_TOKEN = 512

#: What the OpenAPI document says of a deferred answer.
DEFERRED_ANSWER = ResponseSpec(
    data_container=CredentialResponse,
    description=(
        "Deferred: the credentials are not issued yet (a clerk approves them first); ask the "
        "Deferred Credential Endpoint with transaction_id after interval seconds"
    ),
    generate_examples=False,
)


class DeferredCredentialController(Controller):
    path = "/issuers/{issuer_id:str}"
    tags = ["wallet-facing issuer protocol"]  # noqa: RUF012 - litestar reads a list
    dependencies = ISSUER_CONTEXT

    @post(
        "/deferred_credential",
        opt={"rate_limit": "credential", "encrypted_body": open_encrypted_body},
        summary="Deferred Credential Endpoint: credentials a clerk approved (§9)",
        description=ENCRYPTION_DESCRIPTION,
        operation_id="fetchDeferredCredential",
        operation_class=EncryptedAlternatives,
        security=[{"accessToken": []}],
        status_code=HTTP_200_OK,
        before_request=require_access_token,
        dependencies=ACCESS_TOKEN,
        request_max_body_size=MAX_JSON_BYTES,
        responses={HTTP_200_OK: CREDENTIAL_ANSWER, HTTP_202_ACCEPTED: DEFERRED_ANSWER},
    )
    async def deferred_credential(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        access: NamedDependency[ProtectedRequest],
        request: Request[Any, Any, Any],
        data: JSONBody[DeferredCredentialRequest],
    ) -> Response[Any]:
        known_agency(context, issuer_id)
        encryption = response_encryption(
            context, issuer_id, data, encrypted=arrived_encrypted(request)
        )
        response = await fetch_deferred_credential(context, issuer_id, access, data)
        return credential_answer(
            response, encryption, {**NO_STORE, "DPoP-Nonce": fresh_dpop_nonce(context, issuer_id)}
        )
