"""Liveness and readiness for load balancers and orchestrators.

Ready means the database answers *and* takes writes: a node whose database disk is full
still reads, but every issuance, presentation and login would fail, so it must leave the
load balancer's rotation. A write is probed on every readiness check; a disk-full error
seen by any request in the last ``RECENT_FAILURE`` seconds keeps the node not ready too
(a probe of one tiny row can still find room where a credential no longer does), and on
SQLite so does a disk with less than ``MIN_FREE_BYTES`` left. Where keys are kept in a
PKCS#11 token, ready also means the token answers: a node that cannot sign leaves the
rotation until its token is back.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Literal

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy.exc import SQLAlchemyError

from app.deployment import Deployment
from core.clock import SYSTEM_CLOCK
from core.messages import Message
from core.storage.driver import DISK_FULL, storage_fault
from core.storage.readiness import probe_write

RECENT_FAILURE = 10.0
MIN_FREE_BYTES = 1024 * 1024


NotReadyReason = Literal[
    "database unreachable", "database disk full", "database not writable", "key store unavailable"
]


class Liveness(Message):
    status: Literal["ok"]


class Readiness(Message):
    status: Literal["ready", "unavailable"]
    reason: NotReadyReason | msgspec.UnsetType = msgspec.UNSET


class StorageHealth:
    """What this process saw of the database's writes."""

    def __init__(self) -> None:
        self._failed_at: float | None = None

    def write_failed(self) -> None:
        self._failed_at = time.monotonic()

    def failed_recently(self) -> bool:
        return self._failed_at is not None and time.monotonic() - self._failed_at < RECENT_FAILURE


def _sqlite_free_bytes(deployment: Deployment) -> int | None:
    url = deployment.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    stats = os.statvfs(Path(url.database).resolve().parent)
    return stats.f_bavail * stats.f_frsize


async def _write_problem(deployment: Deployment, health: StorageHealth) -> NotReadyReason | None:
    """Why the database does not take writes now, or None."""
    try:
        await probe_write(deployment.engine, SYSTEM_CLOCK.now())
    except (SQLAlchemyError, OSError) as exc:
        health.write_failed()
        return "database disk full" if storage_fault(exc) == DISK_FULL else "database not writable"
    if health.failed_recently():
        return "database disk full"
    free = _sqlite_free_bytes(deployment)
    if free is not None and free < MIN_FREE_BYTES:
        return "database disk full"
    return None


def _unavailable(reason: NotReadyReason) -> Response[Readiness]:
    return Response(
        Readiness(status="unavailable", reason=reason),
        status_code=503,
        headers={"Retry-After": "5", "Cache-Control": "no-store"},
    )


class HealthController(Controller):
    tags = ["operations"]  # noqa: RUF012 - litestar reads a list

    @get(
        "/health",
        operation_id="checkLiveness",
        summary="Liveness: the process serves requests",
        cache=False,
    )
    async def health(self) -> Liveness:
        return Liveness(status="ok")

    @get(
        "/ready",
        summary="Readiness: the database is reachable and takes writes, the key store answers",
        operation_id="checkReadiness",
        responses={
            503: ResponseSpec(
                data_container=Readiness,
                description=(
                    "not ready: `reason` is `database unreachable`, `database disk full`, "
                    "`database not writable` or `key store unavailable` (the hardware "
                    "security module holding signing keys does not answer)"
                ),
                generate_examples=False,
            )
        },
        cache=False,
    )
    async def ready(self, state: State) -> Response[Readiness]:
        deployment: Deployment = state.deployment
        if not await deployment.database_reachable():
            return _unavailable("database unreachable")
        problem = await _write_problem(deployment, state.storage_health)
        if problem is not None:
            return _unavailable(problem)
        if not deployment.token_reachable():
            return _unavailable("key store unavailable")
        return Response(Readiness(status="ready"))
