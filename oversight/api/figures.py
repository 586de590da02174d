"""The oversight API (``/oversight/api``): the figures of a period for a registered
auditor (bearer auditor key). Errors are problem details (RFC 9457)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter
from msgspec import to_builtins

from core.errors import Problem
from oversight.api.messages import (
    AUDITOR_PROFILE_EXAMPLE,
    FIGURES_EXAMPLE,
    AgencyFigures,
    AuditorProfile,
    CounterFigures,
    OversightFigures,
)
from oversight.domain import Auditor
from oversight.services.authenticate_auditor import authenticate_auditor
from oversight.services.context import OversightContext
from oversight.services.read_figures import Figures, parse_period, read_figures

NO_STORE = {"Cache-Control": "no-store"}


def oversight_context(state: State) -> OversightContext:
    context: OversightContext = state.oversight
    return context


async def require_auditor_key(request: Request[Any, Any, Any]) -> None:
    """Before the request (ahead of reading its parameters): the auditor of the key."""
    request.state.auditor = await authenticate_auditor(
        oversight_context(request.app.state), request.headers.get("authorization", "")
    )


def signed_in_auditor(request: Request[Any, Any, Any]) -> Auditor:
    auditor: Auditor = request.state.auditor
    return auditor


def _figures_view(figures: Figures) -> OversightFigures:
    return OversightFigures(
        period_from=figures.period.first.isoformat(),
        period_to=figures.period.last.isoformat(),
        min_count=figures.min_count,
        counters=[
            CounterFigures(
                counter=row.counter,
                purpose=row.purpose,
                claims=list(row.claims),
                requested=row.figures["requested"],
                answered_ok=row.figures["answered_ok"],
                declined=row.figures["declined"],
                failed=row.figures["failed"],
                refused=row.figures["refused"],
            )
            for row in figures.counters
        ],
        agencies=[
            AgencyFigures(
                agency=row.agency,
                credential_configuration=row.credential_configuration,
                issued=row.figures["issued"],
                revoked=row.figures["revoked"],
                suspended=row.figures["suspended"],
                reinstated=row.figures["reinstated"],
            )
            for row in figures.agencies
        ],
    )


class OversightController(Controller):
    path = "/oversight/api"
    tags = ["oversight API"]  # noqa: RUF012 - litestar reads a list
    security = [{"auditorKey": []}]  # noqa: RUF012 - litestar reads a list
    dependencies = {  # noqa: RUF012 - litestar reads a dict
        "context": Provide(oversight_context, sync_to_thread=False),
        "auditor": Provide(signed_in_auditor, sync_to_thread=False),
    }
    before_request = staticmethod(require_auditor_key)
    # the rate-limit class (app.rate_limits); errors, a 429 too, are problem details
    opt = {"rate_limit": "oversight", "problem_details": True}  # noqa: RUF012

    @get(
        "/auditor",
        operation_id="getAuditor",
        summary="The auditor the key belongs to, the suppression threshold and longest period",
        responses={
            200: ResponseSpec(
                AuditorProfile,
                description="The auditor",
                generate_examples=False,
                examples=[Example(value=to_builtins(AUDITOR_PROFILE_EXAMPLE))],
            )
        },
    )
    async def profile(
        self, context: NamedDependency[OversightContext], auditor: NamedDependency[Auditor]
    ) -> Response[AuditorProfile]:
        return Response(
            AuditorProfile(
                auditor_id=auditor.auditor_id,
                name=auditor.name,
                min_count=context.min_count,
                max_period_days=context.max_period_days,
            ),
            headers=NO_STORE,
        )

    @get(
        "/figures",
        operation_id="getOversightFigures",
        opt={"errors": (400,)},
        summary="Per counter and per agency: what was asked, answered, declined, refused,"
        " issued, revoked, suspended and reinstated in a period (small counts suppressed)",
        description=(
            "Aggregates of the audit trail only: no personal data, no identifier of a "
            "citizen or a credential. The read is itself appended to the audit trail "
            "(oversight.viewed, with the period)."
        ),
        responses={
            200: ResponseSpec(
                OversightFigures,
                description="The figures of the period",
                generate_examples=False,
                examples=[Example(value=to_builtins(FIGURES_EXAMPLE))],
            )
        },
    )
    async def figures(
        self,
        request: Request[Any, Any, Any],
        context: NamedDependency[OversightContext],
        auditor: NamedDependency[Auditor],
        first: Annotated[
            str | None,
            QueryParameter(
                name="from",
                description="Required: the first day of the period (UTC), YYYY-MM-DD.",
                examples=[Example(value="2026-01-01")],
            ),
        ] = None,
        last: Annotated[
            str | None,
            QueryParameter(
                name="to",
                description="Required: the last day of the period (UTC, inclusive), YYYY-MM-DD.",
                examples=[Example(value="2026-01-31")],
            ),
        ] = None,
    ) -> Response[OversightFigures]:
        unknown = sorted(set(request.query_params) - {"from", "to"})
        if unknown:
            raise Problem(400, "Bad Request", f"unknown query parameter {unknown[0][:64]!r}")
        if first is None or last is None:
            raise Problem(
                400, "Bad Request", "from and to are required: the period's first and last day"
            )
        period = parse_period(context, first, last)
        return Response(
            _figures_view(await read_figures(context, auditor, period)), headers=NO_STORE
        )
