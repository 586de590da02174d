"""Wallet-facing verifier endpoints (OpenID4VP 1.0): the request object by ``request_uri``
(§5.10, GET and POST) and the Response URI (§8.2 ``direct_post``, §8.3.1
``direct_post.jwt``). Errors are OAuth error JSON (§8.5) with ``Cache-Control: no-store``."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, URLEncodedBody
from litestar.status_codes import HTTP_200_OK

from core.errors import InvalidRequest
from core.oid4vp import AuthorizationResponse, RequestUriPost, ResponseUriAnswer
from verifiers.api.counter import verifier_context
from verifiers.services.context import UnknownRelyingParty, VerifierContext
from verifiers.services.receive_response import MAX_RESPONSE_JWE_BYTES, receive_response
from verifiers.services.request_object import RequestGone, request_object
from verifiers.services.validate_presentation import MAX_VP_TOKEN_BYTES, PresentationValidator

NO_STORE = {"Cache-Control": "no-store"}
REQUEST_OBJECT_MEDIA_TYPE = "application/oauth-authz-req+jwt"
MAX_REQUEST_URI_FORM = 32 * 1024
MAX_RESPONSE_FORM = max(MAX_VP_TOKEN_BYTES, MAX_RESPONSE_JWE_BYTES) * 2


def _context(state: State, verifier_id: str) -> VerifierContext:
    context = verifier_context(state)
    try:
        context.party(verifier_id)
    except UnknownRelyingParty:
        raise InvalidRequest("no such verifier") from None
    return context


async def require_form_body(request: Request[Any, Any, Any]) -> None:
    """Before the request: a body, if any, is form-encoded (§5.10.1, §8.2); refused
    before it is read."""
    if request.headers.get("content-length") in (None, "0"):
        return
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise InvalidRequest("the body must be application/x-www-form-urlencoded")


class PresentationProtocolController(Controller):
    path = "/verifiers/{verifier_id:str}"
    tags = ["wallet-facing verifier protocol"]  # noqa: RUF012 - litestar reads a list

    @get(
        "/requests/{request_id:str}",
        opt={"rate_limit": "request_object"},
        summary="The signed request object (§5.10), by GET, until answered or expired",
        operation_id="getRequestObject",
        media_type=REQUEST_OBJECT_MEDIA_TYPE,
    )
    async def request_object_get(
        self, verifier_id: FromPath[str], request_id: FromPath[str], state: State
    ) -> Response[str]:
        return await self._request_object(state, verifier_id, request_id, None)

    @post(
        "/requests/{request_id:str}",
        opt={"rate_limit": "request_object"},
        summary="The signed request object (§5.10.1), by POST (wallet_metadata, wallet_nonce)",
        operation_id="postRequestObject",
        media_type=REQUEST_OBJECT_MEDIA_TYPE,
        status_code=HTTP_200_OK,
        before_request=require_form_body,
        request_max_body_size=MAX_REQUEST_URI_FORM,
    )
    async def request_object_post(
        self,
        verifier_id: FromPath[str],
        request_id: FromPath[str],
        state: State,
        data: URLEncodedBody[RequestUriPost | None] = None,
    ) -> Response[str]:
        return await self._request_object(state, verifier_id, request_id, data or RequestUriPost())

    async def _request_object(
        self,
        state: State,
        verifier_id: str,
        request_id: str,
        posted: RequestUriPost | None,
    ) -> Response[str]:
        context = _context(state, verifier_id)
        try:
            signed = await request_object(context, verifier_id, request_id, posted=posted)
        except RequestGone:
            raise InvalidRequest("this request is unknown, answered or expired") from None
        return Response(signed, media_type=REQUEST_OBJECT_MEDIA_TYPE, headers=NO_STORE)

    @post(
        "/responses/{request_id:str}",
        opt={"rate_limit": "response"},
        summary="The Response URI: vp_token and state, or an encrypted response (§8.2, §8.3.1)",
        operation_id="submitAuthorizationResponse",
        status_code=HTTP_200_OK,
        before_request=require_form_body,
        request_max_body_size=MAX_RESPONSE_FORM,
    )
    async def response(
        self,
        verifier_id: FromPath[str],
        request_id: FromPath[str],
        state: State,
        data: URLEncodedBody[AuthorizationResponse],
    ) -> Response[ResponseUriAnswer]:
        context = _context(state, verifier_id)
        validator: PresentationValidator = state.presentation_validator
        accepted = await receive_response(context, validator, verifier_id, request_id, data)
        return Response(accepted, headers=NO_STORE)
