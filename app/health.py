"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

from app.deployment import Deployment


class HealthController(Controller):
    tags = ["operations"]  # noqa: RUF012 - litestar reads a list

    @get("/health", summary="Liveness: the process serves requests", cache=False)
    async def health(self) -> dict[str, str]:
        return {"status": "ok"}

    @get(
        "/ready",
        summary="Readiness: the database is reachable",
        responses={
            503: ResponseSpec(
                data_container=dict[str, str],
                description="database unreachable",
                generate_examples=False,
            )
        },
        cache=False,
    )
    async def ready(self, state: State) -> Response[dict[str, str]]:
        deployment: Deployment = state.deployment
        if await deployment.database_reachable():
            return Response({"status": "ready"})
        return Response(
            {"status": "unavailable", "reason": "database unreachable"},
            status_code=503,
            headers={"Retry-After": "5", "Cache-Control": "no-store"},
        )
