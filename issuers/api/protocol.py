"""Wallet-facing issuance endpoints of every agency (OpenID4VCI 1.0): offers by reference
(§4.1.3), token (§6), nonce (§7), credential (§8), notification (§11), and the status
lists its credentials point to (Token Status List §8.1)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, URLEncodedBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from core.oauth import TokenRequest, TokenResponse
from core.oid4vci import (
    CredentialOffer,
    CredentialRequest,
    NonceResponse,
    NotificationRequest,
)
from issuers.api.credential_encryption import (
    CREDENTIAL_ANSWER,
    ENCRYPTION_DESCRIPTION,
    EncryptedAlternatives,
    arrived_encrypted,
    credential_answer,
    open_encrypted_body,
)
from issuers.api.deferred import DEFERRED_ANSWER
from issuers.api.requests import (
    ACCESS_TOKEN,
    ISSUER_CONTEXT,
    MAX_FORM_BYTES,
    MAX_JSON_BYTES,
    etag_matches,
    known_agency,
    require_access_token,
)
from issuers.services.answer_token_request import answer_token_request
from issuers.services.context import IssuerContext
from issuers.services.credential_encryption import response_encryption
from issuers.services.fetch_offer import OfferGone, offer_by_reference
from issuers.services.issue_credential import issue_credentials
from issuers.services.nonces import new_c_nonce
from issuers.services.notify import record_notification
from issuers.services.publish_status_list import UnknownStatusList, status_list_token
from issuers.services.sender_constraint import ProtectedRequest, fresh_dpop_nonce

NO_STORE = {"Cache-Control": "no-store"}


class IssuanceController(Controller):
    path = "/issuers/{issuer_id:str}"
    tags = ["wallet-facing issuer protocol"]  # noqa: RUF012 - litestar reads a list
    dependencies = ISSUER_CONTEXT

    @get(
        "/credential-offers/{offer_id:str}",
        opt={"rate_limit": "offer"},
        summary="A Credential Offer by reference (§4.1.3)",
        operation_id="getCredentialOffer",
    )
    async def credential_offer(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        offer_id: FromPath[str],
    ) -> Response[CredentialOffer]:
        known_agency(context, issuer_id)
        try:
            document = await offer_by_reference(context, issuer_id, offer_id)
        except OfferGone:
            raise NotFoundException("this offer is unknown, used or expired") from None
        return Response(document, headers=NO_STORE)

    @post(
        "/token",
        opt={"errors": (401,), "rate_limit": "token"},
        summary="Token endpoint: pre-authorized code and authorization code grants (§6)",
        operation_id="exchangePreAuthorizedCode",
        status_code=HTTP_200_OK,
        request_max_body_size=MAX_FORM_BYTES,
    )
    async def token(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        request: Request[Any, Any, Any],
        data: URLEncodedBody[TokenRequest],
    ) -> Response[TokenResponse]:
        known_agency(context, issuer_id)
        answer = await answer_token_request(
            context,
            issuer_id,
            data,
            dpop=tuple(request.headers.getall("dpop", [])),
            headers=request.headers.items(),
        )
        headers = {**NO_STORE, "Pragma": "no-cache"}
        if answer.dpop_nonce is not None:
            headers["DPoP-Nonce"] = answer.dpop_nonce
        return Response(answer.response, headers=headers)

    @post(
        "/nonce",
        opt={"rate_limit": "nonce"},
        summary="Nonce endpoint: a fresh single-use c_nonce (§7)",
        operation_id="createCNonce",
        status_code=HTTP_200_OK,
    )
    async def nonce(
        self, context: NamedDependency[IssuerContext], issuer_id: FromPath[str]
    ) -> Response[NonceResponse]:
        known_agency(context, issuer_id)
        return Response(
            NonceResponse(c_nonce=await new_c_nonce(context, issuer_id)),
            headers={**NO_STORE, "DPoP-Nonce": fresh_dpop_nonce(context, issuer_id)},
        )

    @post(
        "/credential",
        opt={"rate_limit": "credential", "encrypted_body": open_encrypted_body},
        summary="Credential endpoint: SD-JWT VCs bound to the proof keys (§8)",
        description=ENCRYPTION_DESCRIPTION,
        operation_id="issueCredential",
        operation_class=EncryptedAlternatives,
        responses={200: CREDENTIAL_ANSWER, 202: DEFERRED_ANSWER},
        security=[{"accessToken": []}],
        status_code=HTTP_200_OK,
        before_request=require_access_token,
        dependencies=ACCESS_TOKEN,
        request_max_body_size=MAX_JSON_BYTES,
    )
    async def credential(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        access: NamedDependency[ProtectedRequest],
        request: Request[Any, Any, Any],
        data: JSONBody[CredentialRequest],
    ) -> Response[Any]:
        known_agency(context, issuer_id)
        encryption = response_encryption(
            context, issuer_id, data, encrypted=arrived_encrypted(request)
        )
        response = await issue_credentials(context, issuer_id, access, data)
        return credential_answer(
            response, encryption, {**NO_STORE, "DPoP-Nonce": fresh_dpop_nonce(context, issuer_id)}
        )

    @post(
        "/notification",
        opt={"rate_limit": "credential"},
        summary="Notification endpoint (§11)",
        operation_id="notifyCredentialEvent",
        security=[{"accessToken": []}],
        status_code=HTTP_204_NO_CONTENT,
        before_request=require_access_token,
        dependencies=ACCESS_TOKEN,
        request_max_body_size=MAX_JSON_BYTES,
    )
    async def notification(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        access: NamedDependency[ProtectedRequest],
        data: JSONBody[NotificationRequest],
    ) -> None:
        known_agency(context, issuer_id)
        await record_notification(context, issuer_id, access, data)

    @get(
        "/status-lists/{list_id:str}",
        opt={"rate_limit": "metadata"},
        summary="A status list token (statuslist+jwt)",
        operation_id="getStatusList",
        media_type="application/statuslist+jwt",
    )
    async def status_list(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        list_id: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> Response[str]:
        known_agency(context, issuer_id)
        try:
            published = await status_list_token(context, issuer_id, list_id)
        except UnknownStatusList:
            raise NotFoundException("no such status list") from None
        etag = f'"{list_id}.{published.version}"'
        headers = {"ETag": etag, "Cache-Control": f"public, max-age={published.max_age}"}
        if etag_matches(request, etag):
            return Response(
                "", status_code=304, headers=headers, media_type="application/statuslist+jwt"
            )
        return Response(published.token, headers=headers, media_type="application/statuslist+jwt")
