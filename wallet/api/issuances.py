"""Receiving through the authorization code flow (OpenID4VCI 1.0 §3.4, HAIP 1.0 §4): the
issuers the citizen can ask, a wallet-initiated issuance, and the citizen's return from
the issuer's authorization page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED
from msgspec import to_builtins

from wallet.api.requests import (
    MAX_BODY,
    WALLET_DEPENDENCIES,
    languages,
    private,
    require_citizen_session,
)
from wallet.services.context import WalletContext
from wallet.services.fetch_deferred import fetch_deferred
from wallet.services.finish_authorization import finish_authorization
from wallet.services.holding_messages import ISSUER_LIST_EXAMPLE, IssuerList
from wallet.services.interaction_messages import (
    AUTHORIZATION_REQUIRED_EXAMPLE,
    OFFER_COMPLETED_EXAMPLE,
    PENDING_ISSUANCES_EXAMPLE,
    AuthorizationReturn,
    IssuanceStart,
    OfferOutcome,
    PendingIssuances,
)
from wallet.services.list_issuers import list_issuers
from wallet.services.list_pending import list_pending
from wallet.services.sessions import Session
from wallet.services.start_issuance import start_issuance

TAGS = ["citizen mobile API"]


class WalletIssuerController(Controller):
    path = "/wallet/issuers"
    tags = TAGS
    security = [{"citizenSession": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_citizen_session)
    dependencies = WALLET_DEPENDENCIES
    opt = {"rate_limit": "citizen"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)

    @get(
        "/",
        operation_id="listIssuers",
        summary="The issuers the citizen can ask for a credential",
        responses={
            200: ResponseSpec(
                IssuerList,
                description="The deployment's agencies and configured issuers",
                generate_examples=False,
                examples=[Example(value=to_builtins(ISSUER_LIST_EXAMPLE))],
            )
        },
    )
    async def list(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        request: Request[Any, Any, Any],
    ) -> Response[IssuerList]:
        return private(await list_issuers(context, languages(request)))


class WalletIssuanceController(Controller):
    path = "/wallet/issuances"
    tags = TAGS
    security = [{"citizenSession": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_citizen_session)
    dependencies = WALLET_DEPENDENCIES
    opt = {"rate_limit": "citizen"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)
    request_max_body_size = MAX_BODY

    @post(
        "/",
        operation_id="startIssuance",
        summary="Ask an issuer for a credential: the URL where the citizen proves who they are",
        responses={
            201: ResponseSpec(
                OfferOutcome,
                description="authorization_required, with the authorization_url to open",
                generate_examples=False,
                examples=[Example(value=to_builtins(AUTHORIZATION_REQUIRED_EXAMPLE))],
            )
        },
        opt={"errors": (409, 422, 502)},
        status_code=HTTP_201_CREATED,
    )
    async def start(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        request: Request[Any, Any, Any],
        data: JSONBody[IssuanceStart],
    ) -> Response[OfferOutcome]:
        preferred = languages(request)
        outcome = await start_issuance(
            context, session.account_id, data, preferred[0] if preferred else None
        )
        return private(outcome, 201)

    @get(
        "/",
        operation_id="listPendingIssuances",
        summary="Issuances whose credentials the issuer deferred: what is still to come",
        responses={
            200: ResponseSpec(
                PendingIssuances,
                description="The citizen's pending issuances",
                generate_examples=False,
                examples=[Example(value=to_builtins(PENDING_ISSUANCES_EXAMPLE))],
            )
        },
    )
    async def pending(
        self, context: NamedDependency[WalletContext], session: NamedDependency[Session]
    ) -> Response[PendingIssuances]:
        return private(await list_pending(context, session.account_id))

    @post(
        "/{issuance_id:str}/fetch",
        operation_id="fetchDeferredCredentials",
        summary="Ask the issuer now for the credentials it deferred",
        responses={
            200: ResponseSpec(
                OfferOutcome,
                description="received, or still pending (with when the wallet asks next)",
                generate_examples=False,
                examples=[Example(value=to_builtins(OFFER_COMPLETED_EXAMPLE))],
            )
        },
        opt={"errors": (404, 422, 502)},
        status_code=200,
    )
    async def fetch(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        issuance_id: FromPath[str],
    ) -> Response[OfferOutcome]:
        return private(await fetch_deferred(context, session.account_id, issuance_id))

    @post(
        "/authorized",
        operation_id="finishAuthorization",
        summary="Back from the issuer: the redirect to /wallet/callback, to finish receiving",
        responses={
            200: ResponseSpec(
                OfferOutcome,
                description="Received, or the proofs the phone must sign first",
                generate_examples=False,
                examples=[Example(value=to_builtins(OFFER_COMPLETED_EXAMPLE))],
            )
        },
        opt={"errors": (404, 422, 502)},
        status_code=200,
    )
    async def authorized(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        data: JSONBody[AuthorizationReturn],
    ) -> Response[OfferOutcome]:
        return private(await finish_authorization(context, session.account_id, data))
