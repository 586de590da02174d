"""The agency operator API: a clerk's tools, authenticated per agency (an operator key
of one agency opens nothing of another). Errors are problem details (RFC 9457)."""

from __future__ import annotations

import base64
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from core.clock import rfc3339
from core.errors import Problem
from core.http.tenant_key_check import require_tenant_key
from core.identifiers import InvalidIdentifier
from core.oauth import AUTHORIZATION_CODE_GRANT, PRE_AUTHORIZED_GRANT
from core.qr import DrawnQr, RecentQrCodes
from issuers.api.requests import ISSUER_CONTEXT, issuer_context
from issuers.domain import RegisterUnavailable
from issuers.ports import OperatorAccess
from issuers.services.context import IssuerContext, UnknownAgency, UnknownConfiguration
from issuers.services.create_offer import TooManyPendingOffers, create_offer, offer_uri
from issuers.services.desk_register import NotInRegister, claims_for_offer
from issuers.services.offer_messages import OfferCreated, OfferCreation, OfferQr
from issuers.services.subject_claims import InvalidSubjectClaims

MAX_OPERATOR_BODY = 256 * 1024
_QR_CODES = RecentQrCodes(title="Scan with your wallet to receive the credential")


def _check_operator_key(
    state: State, request: ASGIConnection[Any, Any, Any, Any], issuer_id: str
) -> None:
    """The request carries an operator key of the agency in the path and that agency
    exists (401 and 404 problem details otherwise)."""
    context = issuer_context(state)
    access: OperatorAccess = state.operator_access
    require_tenant_key(
        request.headers.get("authorization", ""),
        access,
        issuer_id,
        refusal="an operator key of this agency is required",
    )
    try:
        context.agency(issuer_id)
    except UnknownAgency:
        raise Problem(404, "Not Found", "no such agency") from None


async def require_operator_key(request: Request[Any, Any, Any]) -> None:
    """Before the request (ahead of reading the body): the operator key of the agency in
    the path."""
    _check_operator_key(request.app.state, request, request.path_params["issuer_id"])


#: What the operator API's handlers are given: the agencies' context, the key checked.
OPERATOR_DEPENDENCIES = ISSUER_CONTEXT


def _qr(offer_id: str, offer_uri: str) -> DrawnQr:
    return _QR_CODES.get(offer_id, offer_uri)


class AgencyOperatorController(Controller):
    """What every controller of the agency operator API shares: the operator key checked
    before anything else, the issuer context, the body limit, the rate-limit class and
    problem details for every error (a 429 too)."""

    tags = ["agency operator API"]  # noqa: RUF012 - litestar reads a list
    security = [{"operatorKey": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_operator_key)
    dependencies = OPERATOR_DEPENDENCIES
    request_max_body_size = MAX_OPERATOR_BODY
    # the rate-limit class (app.rate_limits); errors, a 429 too, are problem details
    opt = {"rate_limit": "operator", "problem_details": True}  # noqa: RUF012


class OperatorOfferController(AgencyOperatorController):
    path = "/issuers/{issuer_id:str}/offers"

    @post(
        "/",
        summary="Offer a credential to a citizen from the agency's data",
        operation_id="createOffer",
        opt={"errors": (404, 422, 503)},
        status_code=HTTP_201_CREATED,
    )
    async def create(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        request: Request[Any, Any, Any],
        data: JSONBody[OfferCreation],
    ) -> Response[OfferCreated]:
        claims: object = data.claims
        read_at = None
        if not data.claims:  # once only: read from the agency's register, now
            try:
                read = await claims_for_offer(
                    context, issuer_id, data.credential_configuration_id, data.subject_id
                )
            except UnknownConfiguration:
                raise Problem(400, "Bad Request", "unknown credential_configuration_id") from None
            except InvalidIdentifier as exc:
                raise Problem(400, "Bad Request", str(exc)) from None
            except NotInRegister as exc:
                raise Problem(404, "Not Found", str(exc)) from None
            except RegisterUnavailable as failed:
                raise Problem(
                    503,
                    "Service Unavailable",
                    f"the agency's register could not be read ({failed.reason}); nothing was"
                    " offered, try again later",
                    register=failed.reason,
                ) from None
            claims, read_at = read.claims, read.read_at
        try:
            created = await create_offer(
                context,
                issuer_id,
                configuration_id=data.credential_configuration_id,
                subject_id=data.subject_id,
                claims=claims,
                register_read_at=read_at,
                with_tx_code=data.tx_code,
                grant_type=AUTHORIZATION_CODE_GRANT
                if data.grant == "authorization_code"
                else PRE_AUTHORIZED_GRANT,
                other_configurations=data.other_formats,
            )
        except UnknownConfiguration:
            raise Problem(400, "Bad Request", "unknown credential_configuration_id") from None
        except InvalidSubjectClaims as exc:
            raise Problem(
                422,
                "Unprocessable Content",
                "the claims do not fit the credential",
                errors=exc.problems,
            ) from None
        except ValueError as exc:
            raise Problem(400, "Bad Request", str(exc)) from None
        except TooManyPendingOffers as exc:
            raise Problem(429, "Too Many Requests", str(exc)) from None
        offer = created.offer
        images = _qr(offer.offer_id, created.offer_uri)
        # Built from the configured public URL, never from the request's Host header.
        qr_base = f"{context.public_base_url}/issuers/{issuer_id}/offers/{offer.offer_id}"
        return Response(
            OfferCreated(
                offer_id=offer.offer_id,
                offer_uri=created.offer_uri,
                offer_uri_by_value=created.offer_uri_by_value,
                credential_offer_uri=created.credential_offer_uri,
                credential_offer=created.credential_offer,
                tx_code=created.tx_code,
                expires_at=rfc3339(offer.expires_at),
                qr=OfferQr(
                    svg=images.svg,
                    png_base64=base64.b64encode(images.png).decode("ascii"),
                    svg_url=f"{qr_base}/qr.svg",
                    png_url=f"{qr_base}/qr.png",
                ),
            ),
            status_code=HTTP_201_CREATED,
            headers={"Cache-Control": "no-store"},
        )

    @get(
        "/{offer_id:str}/qr.svg",
        operation_id="getOfferQrSvg",
        summary="The offer's QR code as SVG",
        media_type="image/svg+xml",
    )
    async def qr_svg(
        self,
        issuer_id: FromPath[str],
        offer_id: FromPath[str],
        context: NamedDependency[IssuerContext],
    ) -> Response[str]:
        images = await self._images(context, issuer_id, offer_id)
        return Response(
            images.svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"}
        )

    @get(
        "/{offer_id:str}/qr.png",
        operation_id="getOfferQrPng",
        summary="The offer's QR code as PNG",
        media_type="image/png",
    )
    async def qr_png(
        self,
        issuer_id: FromPath[str],
        offer_id: FromPath[str],
        context: NamedDependency[IssuerContext],
    ) -> Response[bytes]:
        images = await self._images(context, issuer_id, offer_id)
        return Response(images.png, media_type="image/png", headers={"Cache-Control": "no-store"})

    async def _images(
        self, context: NamedDependency[IssuerContext], issuer_id: str, offer_id: str
    ) -> DrawnQr:
        offer = await context.offers.get(issuer_id, offer_id) if len(offer_id) <= 64 else None
        if offer is None:
            raise Problem(404, "Not Found", "no such offer")
        return _qr(
            offer_id, offer_uri(context.agency(issuer_id), context.public_base_url, offer_id)
        )
