"""Wallet-facing issuance endpoints of every agency (OpenID4VCI 1.0): offers by reference
(§4.1.3), token (§6), nonce (§7), credential (§8), notification (§11), and the status
lists its credentials point to (Token Status List §8.1)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from core.errors import InvalidCredentialRequest, InvalidNotificationRequest
from issuers.api.requests import bearer_token, etag_matches, form_body, json_body
from issuers.services.context import IssuerContext, UnknownAgency
from issuers.services.exchange_code import exchange_pre_authorized_code
from issuers.services.fetch_offer import OfferGone, offer_by_reference
from issuers.services.issue_credential import issue_credentials
from issuers.services.nonces import new_c_nonce
from issuers.services.notify import record_notification
from issuers.services.publish_status_list import UnknownStatusList, status_list_token

NO_STORE = {"Cache-Control": "no-store"}


def _context(state: State) -> IssuerContext:
    context: IssuerContext = state.issuers
    return context


def _known(context: IssuerContext, issuer_id: str) -> None:
    try:
        context.agency(issuer_id)
    except UnknownAgency:
        raise NotFoundException("no such credential issuer") from None


class IssuanceController(Controller):
    path = "/issuers/{issuer_id:str}"
    tags = ["wallet-facing issuer protocol"]  # noqa: RUF012 - litestar reads a list

    @get(
        "/credential-offers/{offer_id:str}",
        opt={"rate_limit": "offer"},
        summary="A Credential Offer by reference (§4.1.3)",
    )
    async def credential_offer(
        self, issuer_id: FromPath[str], offer_id: FromPath[str], state: State
    ) -> Response[dict[str, Any]]:
        context = _context(state)
        _known(context, issuer_id)
        try:
            document = await offer_by_reference(context, issuer_id, offer_id)
        except OfferGone:
            raise NotFoundException("this offer is unknown, used or expired") from None
        return Response(document, headers=NO_STORE)

    @post(
        "/token",
        opt={"rate_limit": "token"},
        summary="Token endpoint: pre-authorized code grant (§6)",
        status_code=HTTP_200_OK,
    )
    async def token(
        self, issuer_id: FromPath[str], state: State, request: Request[Any, Any, Any]
    ) -> Response[dict[str, Any]]:
        context = _context(state)
        _known(context, issuer_id)
        form = await form_body(request)
        return Response(
            await exchange_pre_authorized_code(context, issuer_id, form),
            headers={**NO_STORE, "Pragma": "no-cache"},
        )

    @post(
        "/nonce",
        opt={"rate_limit": "nonce"},
        summary="Nonce endpoint: a fresh single-use c_nonce (§7)",
        status_code=HTTP_200_OK,
    )
    async def nonce(self, issuer_id: FromPath[str], state: State) -> Response[dict[str, str]]:
        context = _context(state)
        _known(context, issuer_id)
        return Response({"c_nonce": await new_c_nonce(context, issuer_id)}, headers=NO_STORE)

    @post(
        "/credential",
        opt={"rate_limit": "credential"},
        summary="Credential endpoint: SD-JWT VCs bound to the proof keys (§8)",
        status_code=HTTP_200_OK,
    )
    async def credential(
        self, issuer_id: FromPath[str], state: State, request: Request[Any, Any, Any]
    ) -> Response[dict[str, Any]]:
        context = _context(state)
        _known(context, issuer_id)
        token = bearer_token(request)
        body = await json_body(request, InvalidCredentialRequest)
        return Response(await issue_credentials(context, issuer_id, token, body), headers=NO_STORE)

    @post(
        "/notification",
        opt={"rate_limit": "credential"},
        summary="Notification endpoint (§11)",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def notification(
        self, issuer_id: FromPath[str], state: State, request: Request[Any, Any, Any]
    ) -> None:
        context = _context(state)
        _known(context, issuer_id)
        token = bearer_token(request)
        body = await json_body(request, InvalidNotificationRequest)
        await record_notification(context, issuer_id, token, body)

    @get(
        "/status-lists/{list_id:str}",
        opt={"rate_limit": "metadata"},
        summary="A status list token (statuslist+jwt)",
        media_type="application/statuslist+jwt",
    )
    async def status_list(
        self,
        issuer_id: FromPath[str],
        list_id: FromPath[str],
        state: State,
        request: Request[Any, Any, Any],
    ) -> Response[str]:
        context = _context(state)
        _known(context, issuer_id)
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
