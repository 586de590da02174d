"""Assembling the oversight role: its SQL ports on the deployment's engine, the
deployment's audit trail for the auditors' own reads, the suppression threshold
(``IDWALLET_OVERSIGHT_MIN_COUNT``), and the roll-up of the trail as a minute task of the
housekeeping (a pass in every worker; one at a time does the work, ``oversight.storage.sql``)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from litestar import Litestar

from app.deployment import Deployment
from app.housekeeping import every_minute
from app.settings import Settings
from oversight.services.context import OversightContext
from oversight.services.roll_up_trail import roll_up_trail
from oversight.storage.sql import SqlAuditCounts, SqlAuditors

log = logging.getLogger("idwallet.oversight")


def oversight_context(settings: Settings, deployment: Deployment) -> OversightContext:
    return OversightContext(
        auditors=SqlAuditors(deployment.engine),
        counts=SqlAuditCounts(deployment.engine),
        trail=deployment.audit_trail,
        min_count=settings.oversight_min_count,
    )


@contextlib.asynccontextmanager
async def oversight_role(
    app: Litestar, settings: Settings, deployment: Deployment
) -> AsyncIterator[OversightContext]:
    context = oversight_context(settings, deployment)
    app.state.oversight = context

    async def roll_up() -> int:
        rolled = await roll_up_trail(context)
        if rolled:
            log.info("rolled up %d audit entries", rolled)
        return 0  # nothing was deleted: no traces to clear

    async with every_minute(roll_up, log, "audit roll-up", deployment.engine):
        yield context
