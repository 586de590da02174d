"""A clerk decides an application for a credential the agency approves first (deferred
issuance, OpenID4VCI 1.0 §8.3): approved, the wallet's next request at the Deferred
Credential Endpoint collects the credentials; refused, it is answered
``credential_request_denied`` (§9.3).

A decision is final and made once: one compare-and-set from ``pending``, so of clerks
deciding the same application at once (two desks, a desk and a script) exactly one wins,
and the others learn what was decided. Every decision goes to the audit trail, naming the
application and the credential configuration only: the citizen's data, and the clerk's
reason for a refusal (which may be about the citizen's health), stay with the application
and are forgotten with it.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum

from core.audit.trail import AuditEntry
from issuers.domain import APPLICATION_MOVES, Application, ApplicationState, AuditEvent
from issuers.services.context import IssuerContext

MAX_REASON = 500


class Decision(StrEnum):
    APPROVE = "approve"
    REFUSE = "refuse"


_OUTCOME = {Decision.APPROVE: ApplicationState.APPROVED, Decision.REFUSE: ApplicationState.REFUSED}


class UnknownApplication(LookupError):
    """The agency has no application of that id (any more)."""


class AlreadyDecided(Exception):
    """The application is past deciding: decided before, collected, withdrawn or expired."""

    def __init__(self, state: ApplicationState) -> None:
        super().__init__(f"the application is {state.value}; it cannot be decided any more")
        self.state = state


async def decide_application(
    context: IssuerContext,
    issuer_id: str,
    application_id: str,
    decision: Decision,
    *,
    actor: str,
    reason: str = "",
) -> Application:
    """The application as decided. ``UnknownApplication``; ``AlreadyDecided``."""
    context.agency(issuer_id)
    now = context.clock.now()
    application = await context.applications.get(issuer_id, application_id)
    if application is None:
        raise UnknownApplication(application_id)
    outcome = _OUTCOME[decision]
    current = application.effective_state(now)
    if not APPLICATION_MOVES.allows(current, outcome):
        raise AlreadyDecided(current)
    APPLICATION_MOVES.check(application.state, outcome)
    reason = reason.strip()[:MAX_REASON]
    if not await context.applications.move(
        issuer_id,
        application_id,
        expected=application.state,
        state=outcome,
        now=now,
        refusal_reason=reason if outcome is ApplicationState.REFUSED else None,
    ):
        # another clerk decided first, or it ran out meanwhile
        latest = await context.applications.get(issuer_id, application_id)
        raise AlreadyDecided(
            ApplicationState.EXPIRED if latest is None else latest.effective_state(now)
        )
    await context.audit.record(
        AuditEvent(
            issuer_id=issuer_id,
            at=now,
            actor=actor,
            action=f"application.{decision.value}",
            object_id=application_id,
            outcome=outcome.value,
            detail=application.configuration_id,
        )
    )
    # the deployment's trail: the clerk's decision and the configuration, nothing else
    await context.audit_trail.append(
        AuditEntry(
            "operator",
            issuer_id,
            f"application.{outcome.value}",
            facts={"credential_configuration": application.configuration_id},
        )
    )
    if outcome is ApplicationState.REFUSED:  # what it forgot with the refusal
        return dataclasses.replace(
            application,
            state=outcome,
            decided_at=now,
            claims={},
            holder_keys=(),
            refusal_reason=reason,
        )
    return dataclasses.replace(application, state=outcome, decided_at=now)
