"""The counter API: a clerk's screen, authenticated per relying party (a counter key of one
verifier opens nothing of another). Errors are problem details (RFC 9457)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from msgspec import UnsetType

from core.clock import rfc3339
from core.errors import Problem
from core.http.tenant_key_check import require_tenant_key
from core.messages import LocalizedName, LocalizedText
from core.qr import DrawnQr, RecentQrCodes
from verifiers.ports import CounterAccess
from verifiers.services.context import UnknownRelyingParty, VerifierContext
from verifiers.services.create_request import (
    PresentationRequestOptions,
    create_presentation_request,
    wallet_uri,
)
from verifiers.services.follow_transaction import (
    find_transaction,
    follow,
    release_same_device_result,
    transaction_view,
)
from verifiers.services.request_messages import (
    CounterCheck,
    CounterChecks,
    PresentationRequestCreated,
    PresentationRequestCreation,
    PresentationStatus,
    RequestQr,
    SameDeviceRelease,
)

MAX_COUNTER_BODY = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}
_QR_CODES = RecentQrCodes(title="Scan with your wallet to share the requested data")


def verifier_context(state: State) -> VerifierContext:
    context: VerifierContext = state.verifiers
    return context


def _check_counter_key(
    state: State, request: ASGIConnection[Any, Any, Any, Any], verifier_id: str
) -> None:
    """The request carries a counter key of the verifier in the path and that verifier
    exists (401 and 404 problem details otherwise)."""
    context = verifier_context(state)
    access: CounterAccess = state.counter_access
    require_tenant_key(
        request.headers.get("authorization", ""),
        access,
        verifier_id,
        refusal="a counter key of this verifier is required",
    )
    try:
        context.party(verifier_id)
    except UnknownRelyingParty:
        raise Problem(404, "Not Found", "no such verifier") from None


async def require_counter_key(request: Request[Any, Any, Any]) -> None:
    """Before the request (ahead of reading the body): the counter key of the verifier in
    the path."""
    _check_counter_key(request.app.state, request, request.path_params["verifier_id"])


#: What the counter API's handlers are given: the verifiers' context, the key checked.
COUNTER_DEPENDENCIES = {"context": Provide(verifier_context, sync_to_thread=False)}


def _qr_key(verifier_id: str, transaction_id: str) -> str:
    return f"{verifier_id}/{transaction_id}"


def _qr(verifier_id: str, transaction_id: str, uri: str) -> DrawnQr:
    return _QR_CODES.get(_qr_key(verifier_id, transaction_id), uri)


def _options(asked: PresentationRequestCreation) -> PresentationRequestOptions:
    return PresentationRequestOptions(
        template=None if isinstance(asked.template, UnsetType) else asked.template,
        dcql_query=None if isinstance(asked.dcql_query, UnsetType) else asked.dcql_query,
        response_mode=asked.response_mode,
        same_device=asked.same_device,
        request_uri_method=asked.request_uri_method,
        same_device_redirect_uri=None
        if isinstance(asked.same_device_redirect_uri, UnsetType)
        else asked.same_device_redirect_uri,
    )


class CounterPresentationController(Controller):
    path = "/verifiers/{verifier_id:str}/presentations"
    tags = ["counter API"]  # noqa: RUF012 - litestar reads a list
    security = [{"counterKey": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_counter_key)
    dependencies = COUNTER_DEPENDENCIES
    request_max_body_size = MAX_COUNTER_BODY
    # the rate-limit class (app.rate_limits); errors, a 429 too, are problem details
    opt = {"rate_limit": "counter", "problem_details": True}  # noqa: RUF012

    @post(
        "/",
        operation_id="createPresentationRequest",
        summary="Ask a citizen's wallet for a presentation",
        status_code=HTTP_201_CREATED,
    )
    async def create(
        self,
        context: NamedDependency[VerifierContext],
        verifier_id: FromPath[str],
        data: JSONBody[PresentationRequestCreation],
    ) -> Response[PresentationRequestCreated]:
        created = await create_presentation_request(context, verifier_id, _options(data))
        transaction = created.transaction
        base = f"{context.base(verifier_id)}/presentations/{transaction.transaction_id}"
        qr = RequestQr(svg_url=f"{base}/qr.svg", png_url=f"{base}/qr.png")
        # the counter's screen asks for the QR code next: while the request is open this
        # worker draws it without looking the request up again
        _QR_CODES.expect(
            _qr_key(verifier_id, transaction.transaction_id), created.uri, transaction.expires_at
        )
        if data.qr_inline:  # the images themselves, for a screen that shows them at once
            code = _qr(verifier_id, transaction.transaction_id, created.uri)
            qr.svg = code.svg
            qr.png_base64 = base64.b64encode(code.png).decode("ascii")
        body = PresentationRequestCreated(
            transaction_id=transaction.transaction_id,
            status=transaction.status.value,
            uri=created.uri,
            request_uri=created.request_uri,
            client_id=transaction.client_id,
            response_mode=transaction.response_mode,
            dcql_query=transaction.dcql_query,
            expires_at=rfc3339(transaction.expires_at),
            status_url=base,
            events_url=f"{base}/events",
            qr=qr,
        )
        if created.session_token is not None:
            body.same_device_link = created.uri
            body.session_token = created.session_token
        return Response(body, status_code=HTTP_201_CREATED, headers=NO_STORE)

    @get(
        "/checks",
        operation_id="listChecks",
        summary="The checks this counter is registered for, with their purposes",
    )
    async def checks(
        self, context: NamedDependency[VerifierContext], verifier_id: FromPath[str]
    ) -> Response[CounterChecks]:
        party = context.party(verifier_id)
        return Response(
            CounterChecks(
                verifier_id=verifier_id,
                organization=party.organization,
                display=[LocalizedName(locale=d.locale, name=d.text) for d in party.display],
                checks=[
                    CounterCheck(
                        template=name,
                        description=[
                            LocalizedText(locale=d.locale, text=d.text) for d in purpose.description
                        ],
                    )
                    for name, purpose in party.purposes.items()
                ],
                result_retention_seconds=int(context.policy.result_retention),
            ),
            headers=NO_STORE,
        )

    @get(
        "/{transaction_id:str}",
        operation_id="getPresentationStatus",
        summary="Status and result of a presentation request",
    )
    async def status(
        self,
        context: NamedDependency[VerifierContext],
        verifier_id: FromPath[str],
        transaction_id: FromPath[str],
    ) -> Response[PresentationStatus]:
        transaction = await find_transaction(context, verifier_id, transaction_id)
        return Response(transaction_view(transaction, context.clock.now()), headers=NO_STORE)

    @get(
        "/{transaction_id:str}/events",
        summary="Status changes as server-sent events, until verified, failed or expired",
        operation_id="streamPresentationEvents",
        media_type="text/event-stream",
        response_description=(
            "Server-sent events: each event is named by the request's status (waiting, "
            "request_fetched, verified, failed, expired) and its data is the "
            "PresentationStatus document as JSON; the stream ends at a final status"
        ),
    )
    async def events(
        self,
        context: NamedDependency[VerifierContext],
        verifier_id: FromPath[str],
        transaction_id: FromPath[str],
    ) -> ServerSentEvent:
        await find_transaction(context, verifier_id, transaction_id)

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            async for view in follow(context, verifier_id, transaction_id):
                yield ServerSentEventMessage(
                    data=msgspec.json.encode(view).decode("utf-8"), event=view.status.value
                )

        return ServerSentEvent(stream(), headers=NO_STORE)

    @get(
        "/{transaction_id:str}/qr.svg",
        summary="The request's QR code as SVG",
        operation_id="getPresentationQrSvg",
        media_type="image/svg+xml",
    )
    async def qr_svg(
        self,
        verifier_id: FromPath[str],
        transaction_id: FromPath[str],
        context: NamedDependency[VerifierContext],
    ) -> Response[str]:
        code = await self._images(context, verifier_id, transaction_id)
        return Response(code.svg, media_type="image/svg+xml", headers=NO_STORE)

    @get(
        "/{transaction_id:str}/qr.png",
        summary="The request's QR code as PNG",
        operation_id="getPresentationQrPng",
        media_type="image/png",
    )
    async def qr_png(
        self,
        verifier_id: FromPath[str],
        transaction_id: FromPath[str],
        context: NamedDependency[VerifierContext],
    ) -> Response[bytes]:
        code = await self._images(context, verifier_id, transaction_id)
        return Response(code.png, media_type="image/png", headers=NO_STORE)

    async def _images(
        self, context: VerifierContext, verifier_id: str, transaction_id: str
    ) -> DrawnQr:
        code = _QR_CODES.expected(_qr_key(verifier_id, transaction_id), context.clock.now())
        if code is not None:
            return code
        transaction = await find_transaction(context, verifier_id, transaction_id)
        return _qr(verifier_id, transaction_id, wallet_uri(context, transaction))


class SameDeviceController(Controller):
    """The same-device flow's landing point: the wallet redirects the citizen's browser
    here with a ``response_code``; the session that started the request exchanges it,
    with its session token, for the result, once."""

    path = "/verifiers/{verifier_id:str}/presentations/{transaction_id:str}"
    dependencies = COUNTER_DEPENDENCIES
    tags = ["counter API"]  # noqa: RUF012 - litestar reads a list
    # the rate-limit class (app.rate_limits); errors, a 429 too, are problem details
    opt = {"rate_limit": "response", "problem_details": True}  # noqa: RUF012
    request_max_body_size = MAX_COUNTER_BODY

    @post(
        "/release",
        summary="The same-device result, once, for the starting session",
        operation_id="releaseSameDeviceResult",
        opt={"errors": (403,)},
        status_code=HTTP_200_OK,
    )
    async def release(
        self,
        verifier_id: FromPath[str],
        transaction_id: FromPath[str],
        context: NamedDependency[VerifierContext],
        data: JSONBody[SameDeviceRelease],
    ) -> Response[PresentationStatus]:
        try:
            context.party(verifier_id)
        except UnknownRelyingParty:
            raise Problem(404, "Not Found", "no such verifier") from None
        view = await release_same_device_result(
            context,
            verifier_id,
            transaction_id,
            response_code=data.response_code,
            session_token=data.session_token,
        )
        return Response(view, headers=NO_STORE)
