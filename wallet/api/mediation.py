"""Assisted access at citizen spaces (docs/mediators.md): the mediator API
(``/mediator/api``, Bearer mediator key) and the citizen's consent to a mediator and end of
it (``/wallet/help-requests``, ``/wallet/mediations``, the citizen's own session only)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from msgspec import to_builtins

from wallet.api.requests import (
    MAX_BODY,
    WALLET_DEPENDENCIES,
    private,
    require_citizen_session,
    wallet_context,
)
from wallet.domain import Mediator
from wallet.services.context import WalletContext
from wallet.services.help_requests import (
    consent,
    help_request_status,
    look_up,
    start_help_request,
)
from wallet.services.mediation_messages import (
    HELP_REQUEST_CREATED_EXAMPLE,
    HELP_REQUEST_STATUS_EXAMPLE,
    HELP_REQUEST_VIEW_EXAMPLE,
    MEDIATION_ACTIONS,
    MEDIATION_LIST_EXAMPLE,
    MEDIATION_VIEW_EXAMPLE,
    MEDIATOR_PROFILE_EXAMPLE,
    HelpCode,
    HelpRequestCreated,
    HelpRequestOptions,
    HelpRequestStatus,
    HelpRequestView,
    MediationList,
    MediationView,
    MediatorProfile,
    SpaceView,
)
from wallet.services.mediation_sessions import end_by_citizen, end_by_mediator, live_mediations
from wallet.services.mediators import authenticate_mediator
from wallet.services.sessions import Session
from wallet.services.withdraw_help_request import withdraw_help_request


async def require_mediator(request: Request[Any, Any, Any]) -> None:
    """Before the request: the mediator key is checked (``invalid_token``) and kept."""
    request.state.mediator = await authenticate_mediator(
        wallet_context(request.app.state), request.headers.get("authorization")
    )


async def _mediator(request: Request[Any, Any, Any]) -> Mediator:
    mediator = getattr(request.state, "mediator", None)
    if isinstance(mediator, Mediator):
        return mediator
    return await authenticate_mediator(
        wallet_context(request.app.state), request.headers.get("authorization")
    )


class MediatorController(Controller):
    path = "/mediator/api"
    tags = ["mediator API"]  # noqa: RUF012 - litestar reads a list
    security = [{"mediatorKey": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_mediator)
    dependencies = {  # noqa: RUF012 - litestar reads a dict
        "context": Provide(wallet_context, sync_to_thread=False),
        "mediator": Provide(_mediator),
    }
    opt = {"rate_limit": "mediator"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)
    request_max_body_size = MAX_BODY

    @get(
        "/me",
        summary="The mediator the key belongs to, and their citizen space",
        operation_id="getMediatorProfile",
        responses={
            200: ResponseSpec(
                MediatorProfile,
                description="The mediator and the space",
                generate_examples=False,
                examples=[Example(value=to_builtins(MEDIATOR_PROFILE_EXAMPLE))],
            )
        },
    )
    async def me(
        self, context: NamedDependency[WalletContext], mediator: NamedDependency[Mediator]
    ) -> Response[MediatorProfile]:
        space = mediator.space
        return private(
            MediatorProfile(
                mediator_id=mediator.mediator_id,
                name=mediator.name,
                languages=list(mediator.languages),
                space=SpaceView(
                    space_id=space.space_id, name=space.name, languages=list(space.languages)
                ),
                mediation_minutes=context.policy.mediation_lifetime // 60,
                actions=list(MEDIATION_ACTIONS),
            )
        )

    @post(
        "/help-requests",
        summary="Ask to help a citizen: a code and QR code for the citizen's wallet, or the "
        "consent counter's request for the national ID",
        operation_id="createHelpRequest",
        responses={
            201: ResponseSpec(
                HelpRequestCreated,
                description="The code to show, and the token of the mediation to come",
                generate_examples=False,
                examples=[Example(value=to_builtins(HELP_REQUEST_CREATED_EXAMPLE))],
            )
        },
        opt={"errors": (502,)},
        status_code=HTTP_201_CREATED,
    )
    async def create(
        self,
        context: NamedDependency[WalletContext],
        mediator: NamedDependency[Mediator],
        data: JSONBody[HelpRequestOptions | None] = None,
    ) -> Response[HelpRequestCreated]:
        consent_by = (data or HelpRequestOptions()).consent
        return private(await start_help_request(context, mediator, consent_by), 201)

    @get(
        "/help-requests/{help_request_id:str}",
        summary="Whether the citizen consented (and until when the mediation lasts)",
        operation_id="getHelpRequest",
        responses={
            200: ResponseSpec(
                HelpRequestStatus,
                description="waiting, consented, ended or expired",
                generate_examples=False,
                examples=[Example(value=to_builtins(HELP_REQUEST_STATUS_EXAMPLE))],
            )
        },
    )
    async def status(
        self,
        context: NamedDependency[WalletContext],
        mediator: NamedDependency[Mediator],
        help_request_id: FromPath[str],
    ) -> Response[HelpRequestStatus]:
        return private(await help_request_status(context, mediator, help_request_id))

    @delete(
        "/help-requests/{help_request_id:str}",
        summary="Cancel a help request: its code and QR code stop working at once (a "
        "mediation the citizen started with it just before ends too)",
        operation_id="withdrawHelpRequest",
        opt={"errors": (404,)},
        status_code=HTTP_204_NO_CONTENT,
    )
    async def withdraw(
        self,
        context: NamedDependency[WalletContext],
        mediator: NamedDependency[Mediator],
        help_request_id: FromPath[str],
    ) -> None:
        await withdraw_help_request(context, mediator, help_request_id)

    @delete(
        "/mediations/{mediation_id:str}",
        summary="The mediator ends the mediation (the citizen is done)",
        operation_id="endMediationAsMediator",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def end(
        self,
        context: NamedDependency[WalletContext],
        mediator: NamedDependency[Mediator],
        mediation_id: FromPath[str],
    ) -> None:
        await end_by_mediator(context, mediator, mediation_id)


class WalletMediationController(Controller):
    """The citizen's side: what a help request would allow, consent, and ending it. A
    mediation token is refused here (403): only the citizen consents and ends."""

    path = "/wallet"
    tags = ["citizen mobile API"]  # noqa: RUF012 - litestar reads a list
    security = [{"citizenSession": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_citizen_session)
    dependencies = WALLET_DEPENDENCIES
    opt = {"rate_limit": "citizen"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)
    request_max_body_size = MAX_BODY

    @post(
        "/help-requests/lookup",
        summary="Who asks to help, where, for how long, doing what (the code stays unused)",
        operation_id="lookUpHelpRequest",
        opt={"errors": (404,)},
        responses={
            200: ResponseSpec(
                HelpRequestView,
                description="What the citizen would consent to",
                generate_examples=False,
                examples=[Example(value=to_builtins(HELP_REQUEST_VIEW_EXAMPLE))],
            )
        },
        status_code=200,
    )
    async def look_up(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        data: JSONBody[HelpCode],
    ) -> Response[HelpRequestView]:
        return private(await look_up(context, data.code))

    @post(
        "/mediations",
        summary="Consent: let the mediator act for me for a limited time and actions",
        operation_id="consentToMediation",
        opt={"errors": (404,)},
        responses={
            201: ResponseSpec(
                MediationView,
                description="The mediation started",
                generate_examples=False,
                examples=[Example(value=to_builtins(MEDIATION_VIEW_EXAMPLE))],
            )
        },
        status_code=HTTP_201_CREATED,
    )
    async def consent(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        data: JSONBody[HelpCode],
    ) -> Response[MediationView]:
        return private(await consent(context, session, data.code), 201)

    @get(
        "/mediations",
        summary="The mediations that may act for me now",
        operation_id="listMediations",
        responses={
            200: ResponseSpec(
                MediationList,
                description="Live mediations, the oldest first",
                generate_examples=False,
                examples=[Example(value=to_builtins(MEDIATION_LIST_EXAMPLE))],
            )
        },
    )
    async def list(
        self, context: NamedDependency[WalletContext], session: NamedDependency[Session]
    ) -> Response[MediationList]:
        return private(await live_mediations(context, session))

    @delete(
        "/mediations/{mediation_id:str}",
        summary="End a mediation now: the mediator's next action is refused",
        operation_id="endMediation",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def end(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        mediation_id: FromPath[str],
    ) -> None:
        await end_by_citizen(context, session, mediation_id)


__all__ = ["MediatorController", "WalletMediationController"]
