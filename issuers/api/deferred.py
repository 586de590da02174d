"""The Deferred Credential Endpoint of every agency (OpenID4VCI 1.0 §9), and how a
credential response is answered: 200 with the credentials, 202 with a ``transaction_id``
while they are deferred (§8.3, §9.2)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED
from msgspec import UNSET

from core.errors import InvalidToken
from core.oid4vci import CredentialResponse, DeferredCredentialRequest
from issuers.api.requests import ISSUER_CONTEXT, MAX_JSON_BYTES, known_agency
from issuers.services.context import IssuerContext
from issuers.services.fetch_deferred_credential import fetch_deferred_credential

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


def credential_answer(response: CredentialResponse) -> Response[CredentialResponse]:
    """200 with credentials; 202 with a ``transaction_id`` and ``interval`` (§8.3, §9.2)."""
    deferred = response.transaction_id is not UNSET
    return Response(
        response,
        status_code=HTTP_202_ACCEPTED if deferred else HTTP_200_OK,
        headers=NO_STORE,
    )


def _access_token(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The bearer access token of the request's ``Authorization`` header (RFC 6750 §2.1; a
    token in the query is refused, §2.3 is not offered)."""
    if "access_token" in request.query_params:
        raise InvalidToken("send the access token in the Authorization header")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_ACCESS_TOKEN:
        raise InvalidToken("a bearer access token is required")
    return token


async def require_access_token(request: Request[Any, Any, Any]) -> None:
    """Before the request (ahead of reading the body): the access token comes first
    (RFC 6750 §3.1)."""
    _access_token(request)


async def _provide_access_token(request: Request[Any, Any, Any]) -> str:
    return _access_token(request)


class DeferredCredentialController(Controller):
    path = "/issuers/{issuer_id:str}"
    tags = ["wallet-facing issuer protocol"]  # noqa: RUF012 - litestar reads a list
    dependencies = ISSUER_CONTEXT

    @post(
        "/deferred_credential",
        opt={"rate_limit": "credential"},
        summary="Deferred Credential Endpoint: credentials a clerk approved (§9)",
        operation_id="fetchDeferredCredential",
        security=[{"accessToken": []}],
        status_code=HTTP_200_OK,
        before_request=require_access_token,
        dependencies={"access_token": Provide(_provide_access_token)},
        request_max_body_size=MAX_JSON_BYTES,
        responses={HTTP_202_ACCEPTED: DEFERRED_ANSWER},
    )
    async def deferred_credential(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        access_token: NamedDependency[str],
        data: JSONBody[DeferredCredentialRequest],
    ) -> Response[CredentialResponse]:
        known_agency(context, issuer_id)
        return credential_answer(
            await fetch_deferred_credential(context, issuer_id, access_token, data)
        )
