"""Operator API for applications: the credential requests that wait for a clerk of the
agency to approve or refuse them (deferred issuance, OpenID4VCI 1.0 §8.3, §9)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from core.clock import rfc3339
from core.errors import Problem
from core.identifiers import InvalidIdentifier, checked_identifier
from issuers.api.operator import AgencyOperatorController
from issuers.domain import APPLICATION_MOVES, Application, ApplicationState
from issuers.services.application_messages import (
    ApplicationList,
    ApplicationRefusal,
    ApplicationView,
)
from issuers.services.context import IssuerContext
from issuers.services.decide_application import (
    AlreadyDecided,
    Decision,
    UnknownApplication,
    decide_application,
)

MAX_LISTED = 1000
NO_STORE = {"Cache-Control": "no-store"}


def application_view(application: Application, now: float) -> ApplicationView:
    """The application as it is at ``now``; what it would issue only while it may."""
    state = application.effective_state(now)
    live = not APPLICATION_MOVES.is_final(state)
    return ApplicationView(
        application_id=application.application_id,
        credential_configuration_id=application.configuration_id,
        subject_id=application.subject_id,
        state=state.value,
        claims=dict(application.claims) if live else {},
        credentials=len(application.holder_keys) if live else 0,
        requested_at=rfc3339(application.created_at),
        expires_at=rfc3339(application.expires_at),
        decided_at=None if application.decided_at is None else rfc3339(application.decided_at),
        refusal_reason=application.refusal_reason,
    )


def _application_id(value: str) -> str:
    try:
        return checked_identifier(value, what="application_id", max_length=64)
    except InvalidIdentifier as exc:
        raise Problem(404, "Not Found", "no such application") from exc


async def _decide(
    context: IssuerContext,
    issuer_id: str,
    application_id: str,
    decision: Decision,
    reason: str = "",
) -> Response[ApplicationView]:
    try:
        decided = await decide_application(
            context,
            issuer_id,
            _application_id(application_id),
            decision,
            actor="operator",
            reason=reason,
        )
    except UnknownApplication:
        raise Problem(404, "Not Found", "no such application") from None
    except AlreadyDecided as exc:
        raise Problem(409, "Conflict", str(exc), state=exc.state.value) from None
    return Response(application_view(decided, context.clock.now()), headers=NO_STORE)


class OperatorApplicationController(AgencyOperatorController):
    path = "/issuers/{issuer_id:str}/applications"

    @get(
        "/",
        summary="The agency's applications for credentials a clerk approves first, oldest first",
        operation_id="listApplications",
    )
    async def listed(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        request: Request[Any, Any, Any],
        in_state: Annotated[
            ApplicationState | None,
            QueryParameter(name="state", description="Only the applications in this state."),
        ] = None,
        limit: FromQuery[int] = 100,
    ) -> Response[ApplicationList]:
        unknown = sorted(set(request.query_params) - {"state", "limit"})
        if unknown:
            raise Problem(400, "Bad Request", f"unknown query parameter {unknown[0][:64]!r}")
        now = context.clock.now()
        applications = await context.applications.listed(
            issuer_id, now=now, state=in_state, limit=max(1, min(limit, MAX_LISTED))
        )
        return Response(
            ApplicationList(applications=[application_view(a, now) for a in applications]),
            headers=NO_STORE,
        )

    @post(
        "/{application_id:str}/approve",
        summary="Approve an application: the wallet's next deferred request collects it",
        operation_id="approveApplication",
        status_code=200,
        opt={"errors": (409,)},
    )
    async def approve(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        application_id: FromPath[str],
    ) -> Response[ApplicationView]:
        return await _decide(context, issuer_id, application_id, Decision.APPROVE)

    @post(
        "/{application_id:str}/refuse",
        summary="Refuse an application, with the clerk's reason (kept for the agency only)",
        operation_id="refuseApplication",
        status_code=200,
        opt={"errors": (409,)},
    )
    async def refuse(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        application_id: FromPath[str],
        data: JSONBody[ApplicationRefusal],
    ) -> Response[ApplicationView]:
        return await _decide(context, issuer_id, application_id, Decision.REFUSE, data.reason)
