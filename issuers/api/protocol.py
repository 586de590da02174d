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
from msgspec import UnsetType

from core.oauth import AUTHORIZATION_CODE_GRANT, TokenRequest, TokenResponse
from core.oid4vci import (
    CredentialOffer,
    CredentialRequest,
    CredentialResponse,
    NonceResponse,
    NotificationRequest,
)
from issuers.api.deferred import DEFERRED_ANSWER, credential_answer
from issuers.api.requests import (
    ACCESS_TOKEN,
    ISSUER_CONTEXT,
    MAX_FORM_BYTES,
    MAX_JSON_BYTES,
    etag_matches,
    known_agency,
    require_bearer_token,
)
from issuers.services.authenticate_client import attested_client
from issuers.services.context import IssuerContext
from issuers.services.exchange_authorization_code import exchange_authorization_code
from issuers.services.exchange_code import exchange_pre_authorized_code
from issuers.services.fetch_offer import OfferGone, offer_by_reference
from issuers.services.issue_credential import issue_credentials
from issuers.services.nonces import new_c_nonce
from issuers.services.notify import record_notification
from issuers.services.publish_status_list import UnknownStatusList, status_list_token

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
        agency = known_agency(context, issuer_id)
        by_code = data.grant_type == AUTHORIZATION_CODE_GRANT
        # HAIP 1.0 §4: the wallet authenticates with its attestation, where the agency asks
        if (
            agency.attestation_for_authorization_code
            if by_code
            else agency.attestation_for_pre_authorized_code
        ):
            client = await attested_client(
                context,
                issuer_id,
                request.headers.items(),
                client_id=None if isinstance(data.client_id, UnsetType) else data.client_id,
            )
            if isinstance(data.client_id, UnsetType):
                data.client_id = client.client_id
        if by_code:
            answer = await exchange_authorization_code(context, issuer_id, data, dpop_jkt=None)
        else:
            answer = await exchange_pre_authorized_code(context, issuer_id, data)
        return Response(answer, headers={**NO_STORE, "Pragma": "no-cache"})

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
            NonceResponse(c_nonce=await new_c_nonce(context, issuer_id)), headers=NO_STORE
        )

    @post(
        "/credential",
        opt={"rate_limit": "credential"},
        summary="Credential endpoint: SD-JWT VCs bound to the proof keys (§8)",
        operation_id="issueCredential",
        security=[{"accessToken": []}],
        status_code=HTTP_200_OK,
        before_request=require_bearer_token,
        dependencies=ACCESS_TOKEN,
        request_max_body_size=MAX_JSON_BYTES,
        responses={202: DEFERRED_ANSWER},
    )
    async def credential(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        access_token: NamedDependency[str],
        data: JSONBody[CredentialRequest],
    ) -> Response[CredentialResponse]:
        known_agency(context, issuer_id)
        return credential_answer(await issue_credentials(context, issuer_id, access_token, data))

    @post(
        "/notification",
        opt={"rate_limit": "credential"},
        summary="Notification endpoint (§11)",
        operation_id="notifyCredentialEvent",
        security=[{"accessToken": []}],
        status_code=HTTP_204_NO_CONTENT,
        before_request=require_bearer_token,
        dependencies=ACCESS_TOKEN,
        request_max_body_size=MAX_JSON_BYTES,
    )
    async def notification(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        access_token: NamedDependency[str],
        data: JSONBody[NotificationRequest],
    ) -> None:
        known_agency(context, issuer_id)
        await record_notification(context, issuer_id, access_token, data)

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
