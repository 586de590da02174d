"""The deferred-credential poller's work (OpenID4VCI 1.0 §9.2: the wallet asks again
after the issuer's ``interval``): one pass asks the issuer about every pending issuance
that is due, and says how long to sleep until the next one is.

Every worker may poll: an issuance is asked about by the one worker that claims it
(``claim_flow``), the others skip it. Each asks about one issuance at most once per
``min_deferred_interval`` whatever happens to it (a pass that fails before the issuance
is scheduled again does not make it due at once again), and sleeps between
``deferred_poll_shortest`` and ``deferred_poll_longest`` seconds: no busy loop on an
overdue issuance, and what other workers left pending is seen within the longest sleep.
Failures are logged with the flow id and the error's code or kind, nothing of the citizen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from msgspec import UnsetType

from core.errors import ProtocolError
from wallet.services.context import WalletContext
from wallet.services.fetch_deferred import fetch_deferred

log = logging.getLogger("idwallet.wallet")


def _never() -> bool:
    return False


@dataclass(slots=True)
class DeferredPoller:
    context: WalletContext
    #: Flow id: when this worker last asked about it (kept ``min_deferred_interval``).
    asked: dict[str, float] = field(default_factory=dict)

    async def poll(self, stopping: Callable[[], bool] = _never) -> int:
        """Ask about each pending issuance that is due and that this worker did not ask
        about within ``min_deferred_interval``, until ``stopping``; how many credentials
        arrived. An issuance that fails is logged and the others are still asked about."""
        context = self.context
        policy = context.policy
        now = context.clock.now()
        recent = now - policy.min_deferred_interval
        self.asked = {flow_id: at for flow_id, at in self.asked.items() if at > recent}
        due = await context.store.flows.due(now, policy.deferred_per_pass + len(self.asked))
        arrived = 0
        for account_id, flow_id in [d for d in due if d[1] not in self.asked][
            : policy.deferred_per_pass
        ]:
            if stopping():
                break
            self.asked[flow_id] = now
            try:
                outcome = await fetch_deferred(context, account_id, flow_id)
            except ProtocolError as failed:
                log.info("deferred credentials of flow %s: %s", flow_id, failed.error)
                continue
            except Exception as failed:  # a bug or the database away: the next one still
                log.warning("deferred credentials of flow %s: %s", flow_id, type(failed).__name__)
                continue
            if not isinstance(outcome.credentials, UnsetType):
                arrived += len(outcome.credentials)
        return arrived

    async def sleep_for(self) -> float:
        """Seconds until the earliest pending issuance is due, within the poller's bounds."""
        policy = self.context.policy
        now = self.context.clock.now()
        due = await self.context.store.flows.next_due(now)
        wait = policy.deferred_poll_longest if due is None else due - now
        return min(max(wait, policy.deferred_poll_shortest), policy.deferred_poll_longest)
