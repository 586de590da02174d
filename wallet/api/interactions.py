"""Scanning, receiving and presenting: the two protocol interactions a citizen starts by
scanning a QR code (or following a link on the same device)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED
from msgspec import to_builtins

from core.errors import InvalidRequest
from wallet.api.requests import (
    MAX_BODY,
    WALLET_DEPENDENCIES,
    languages,
    private,
    require_citizen_session,
)
from wallet.services.accept_offer import accept_offer
from wallet.services.approve_presentation import approve
from wallet.services.complete_offer import complete_offer
from wallet.services.complete_presentation import complete
from wallet.services.context import WalletContext
from wallet.services.decline_presentation import decline
from wallet.services.interaction_messages import (
    CONSENT_VIEW_EXAMPLE,
    OFFER_COMPLETED_EXAMPLE,
    OFFER_OUTCOME_EXAMPLES,
    OFFER_VIEW_EXAMPLE,
    PRESENTATION_COMPLETED_EXAMPLE,
    PRESENTATION_DECLINED_EXAMPLE,
    PRESENTATION_OUTCOME_EXAMPLES,
    SCAN_RESULT_EXAMPLES,
    ConsentView,
    DeviceSignatures,
    OfferAcceptance,
    OfferOutcome,
    OfferView,
    PresentationConsent,
    PresentationOutcome,
    ScannedText,
    ScanResult,
)
from wallet.services.mediation_messages import (
    DEVICE_CUSTODY_IN_MEDIATION,
    PRESENTATION_IN_MEDIATION,
)
from wallet.services.mediation_sessions import keep_keys_on_the_server
from wallet.services.scan import parse_scanned
from wallet.services.scan_offer import scan_offer
from wallet.services.scan_presentation import scan_request
from wallet.services.sessions import Session

TAGS = ["citizen mobile API"]


class WalletScanController(Controller):
    path = "/wallet/scans"
    tags = TAGS
    security = [{"citizenSession": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_citizen_session)
    dependencies = WALLET_DEPENDENCIES
    opt = {"rate_limit": "citizen"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)
    request_max_body_size = MAX_BODY

    @post(
        "/",
        summary="Whatever was scanned: a credential offer or a presentation request",
        operation_id="scan",
        responses={
            201: ResponseSpec(
                ScanResult,
                description="What was scanned: an offer or a presentation request",
                generate_examples=False,
                examples=[
                    Example(summary=name, value=to_builtins(example))
                    for name, example in SCAN_RESULT_EXAMPLES.items()
                ],
            )
        },
        opt={
            "mediation": "scan",
            "mediation_seen": "scan",
            "mediation_refusal": PRESENTATION_IN_MEDIATION,
            "errors": (409, 410, 422, 502),
        },
        status_code=HTTP_201_CREATED,
    )
    async def scan(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        request: Request[Any, Any, Any],
        data: JSONBody[ScannedText],
    ) -> Response[ScanResult]:
        scanned = parse_scanned(data.uri)
        preferred = languages(request)
        if scanned.kind == "offer":
            offer = await scan_offer(
                context, session.account_id, scanned.parameters, preferred[0] if preferred else None
            )
            return private(ScanResult(kind="offer", offer=offer), 201)
        view = await scan_request(context, session.account_id, scanned.parameters, preferred)
        return private(ScanResult(kind="presentation", presentation=view), 201)


class WalletOfferController(Controller):
    path = "/wallet/offers"
    tags = TAGS
    security = [{"citizenSession": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_citizen_session)
    dependencies = WALLET_DEPENDENCIES
    opt = {"rate_limit": "citizen"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)
    request_max_body_size = MAX_BODY

    @post(
        "/",
        operation_id="openOffer",
        responses={
            201: ResponseSpec(
                OfferView,
                description="Who offers what",
                generate_examples=False,
                examples=[Example(value=to_builtins(OFFER_VIEW_EXAMPLE))],
            )
        },
        opt={"mediation": "receive", "mediation_seen": "offer", "errors": (409, 410, 422, 502)},
        summary="Open a credential offer: who offers what",
        status_code=HTTP_201_CREATED,
    )
    async def open(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        request: Request[Any, Any, Any],
        data: JSONBody[ScannedText],
    ) -> Response[OfferView]:
        scanned = parse_scanned(data.uri)
        if scanned.kind != "offer":
            raise InvalidRequest("this is not a credential offer")
        preferred = languages(request)
        view = await scan_offer(
            context, session.account_id, scanned.parameters, preferred[0] if preferred else None
        )
        return private(view, 201)

    @post(
        "/{offer_id:str}/accept",
        summary="Accept the offer (with the transaction code)",
        operation_id="acceptOffer",
        responses={
            200: ResponseSpec(
                OfferOutcome,
                description="Received, or the proofs the phone must sign first",
                generate_examples=False,
                examples=[
                    Example(summary=name, value=to_builtins(example))
                    for name, example in OFFER_OUTCOME_EXAMPLES.items()
                ],
            )
        },
        opt={
            "mediation": "receive",
            "mediation_refusal": DEVICE_CUSTODY_IN_MEDIATION,
            "errors": (410, 422, 502),
        },
        status_code=200,
    )
    async def accept(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        offer_id: FromPath[str],
        data: JSONBody[OfferAcceptance | None] = None,
    ) -> Response[OfferOutcome]:
        body = data or OfferAcceptance()
        await keep_keys_on_the_server(context, session, body.custody)
        return private(await accept_offer(context, session.account_id, offer_id, body))

    @post(
        "/{offer_id:str}/complete",
        summary="Device-bound keys: the phone's proof signatures",
        operation_id="completeOffer",
        responses={
            200: ResponseSpec(
                OfferOutcome,
                description="Received",
                generate_examples=False,
                examples=[Example(value=to_builtins(OFFER_COMPLETED_EXAMPLE))],
            )
        },
        opt={"errors": (422, 502)},
        status_code=200,
    )
    async def complete(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        offer_id: FromPath[str],
        data: JSONBody[DeviceSignatures],
    ) -> Response[OfferOutcome]:
        return private(await complete_offer(context, session.account_id, offer_id, data))


class WalletPresentationController(Controller):
    path = "/wallet/presentations"
    tags = TAGS
    security = [{"citizenSession": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_citizen_session)
    dependencies = WALLET_DEPENDENCIES
    opt = {"rate_limit": "citizen"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)
    request_max_body_size = MAX_BODY

    @post(
        "/",
        operation_id="openPresentation",
        responses={
            201: ResponseSpec(
                ConsentView,
                description="The consent view",
                generate_examples=False,
                examples=[Example(value=to_builtins(CONSENT_VIEW_EXAMPLE))],
            )
        },
        opt={
            "mediation": "present",
            "mediation_seen": "presentation_request",
            "mediation_refusal": PRESENTATION_IN_MEDIATION,
            "errors": (409, 410, 422, 502),
        },
        summary="Open a presentation request: the consent view",
        status_code=HTTP_201_CREATED,
    )
    async def open(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        request: Request[Any, Any, Any],
        data: JSONBody[ScannedText],
    ) -> Response[ConsentView]:
        scanned = parse_scanned(data.uri)
        if scanned.kind != "presentation":
            raise InvalidRequest("this is not a presentation request")
        view = await scan_request(
            context, session.account_id, scanned.parameters, languages(request)
        )
        return private(view, 201)

    @post(
        "/{presentation_id:str}/approve",
        summary="Consent: present (optionally leaving out optional claims)",
        operation_id="approvePresentation",
        responses={
            200: ResponseSpec(
                PresentationOutcome,
                description="Submitted, or the signatures the phone must make first",
                generate_examples=False,
                examples=[
                    Example(summary=name, value=to_builtins(example))
                    for name, example in PRESENTATION_OUTCOME_EXAMPLES.items()
                ],
            )
        },
        opt={
            "mediation": "present",
            "mediation_refusal": PRESENTATION_IN_MEDIATION,
            "errors": (422, 502),
        },
        status_code=200,
    )
    async def approve(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        presentation_id: FromPath[str],
        request: Request[Any, Any, Any],
        data: JSONBody[PresentationConsent | None] = None,
    ) -> Response[PresentationOutcome]:
        body = data or PresentationConsent()
        return private(
            await approve(context, session.account_id, presentation_id, body, languages(request))
        )

    @post(
        "/{presentation_id:str}/complete",
        summary="Device-bound keys: the phone's key-binding signatures",
        operation_id="completePresentation",
        responses={
            200: ResponseSpec(
                PresentationOutcome,
                description="Submitted, with the verifier's verdict",
                generate_examples=False,
                examples=[Example(value=to_builtins(PRESENTATION_COMPLETED_EXAMPLE))],
            )
        },
        opt={"errors": (422, 502)},
        status_code=200,
    )
    async def complete(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        presentation_id: FromPath[str],
        data: JSONBody[DeviceSignatures],
    ) -> Response[PresentationOutcome]:
        return private(await complete(context, session.account_id, presentation_id, data))

    @post(
        "/{presentation_id:str}/decline",
        operation_id="declinePresentation",
        responses={
            200: ResponseSpec(
                PresentationOutcome,
                description="Declined; the verifier is told",
                generate_examples=False,
                examples=[Example(value=to_builtins(PRESENTATION_DECLINED_EXAMPLE))],
            )
        },
        opt={"mediation": "present", "errors": (502,)},
        summary="Refuse: the verifier is told",
        status_code=200,
    )
    async def decline(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        presentation_id: FromPath[str],
    ) -> Response[PresentationOutcome]:
        return private(await decline(context, session.account_id, presentation_id))
