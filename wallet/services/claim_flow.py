"""One step of an offer or presentation flow at a time.

A step claims its flow by moving it from the state it expects to ``busy`` (one
compare-and-set in storage, so of two taps on "approve" one wins and the other is told
the flow is being handled) and ends the claim by moving it on, to ``failed``, or back to
where it was when the step was refused and may be tried again. Every move is checked
against the flow kind's table in ``wallet.domain``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import InvalidRequest
from wallet.domain import FLOW_MOVES, Flow, FlowKind, FlowState, NotFound, StoredCredential
from wallet.services.context import WalletContext
from wallet.services.sealing import AccountBox

#: How each kind of flow is named to the citizen.
_NAMES = {FlowKind.OFFER: "offer", FlowKind.PRESENTATION: "request"}
_UNKNOWN = {FlowKind.OFFER: "no such offer", FlowKind.PRESENTATION: "no such presentation request"}


@dataclass(frozen=True, slots=True)
class ClaimedFlow:
    """A flow this step holds in ``busy``, its account's box, and its opened content."""

    flow: Flow
    box: AccountBox
    content: dict[str, Any]
    #: The citizen's credentials, read with the claim when the step asked for them.
    listed: list[StoredCredential] | None = None

    @property
    def flow_id(self) -> str:
        return self.flow.flow_id


async def claim_flow(
    context: WalletContext,
    account_id: str,
    flow_id: str,
    kind: FlowKind,
    expected: FlowState,
    *,
    listing: bool = False,
    contents: bool = True,
) -> ClaimedFlow:
    """The flow, moved from ``expected`` to ``busy``; ``NotFound`` for an unknown flow, one
    of another kind or another citizen's, ``InvalidRequest`` when it is elsewhere. With
    ``listing``, the citizen's credentials are read in the same round trip (without
    ``contents``, only which they are)."""
    FLOW_MOVES[kind].check(expected, FlowState.BUSY)
    now = context.clock.now()
    flows = context.store.flows
    listed = None
    if listing:
        claimed = await flows.claim_listing(
            account_id, flow_id, kind, expected, now, contents=contents
        )
        flow, listed = (None, None) if claimed is None else claimed
    else:
        flow = await flows.claim(account_id, flow_id, kind, expected, now)
    if flow is None:
        name = _NAMES[kind]
        kept = await context.store.flows.get(account_id, flow_id, now)
        if kept is None or kept.kind is not kind:
            raise NotFound(_UNKNOWN[kind])
        if kept.state is FlowState.BUSY:
            raise InvalidRequest(f"the {name} is being handled by another request")
        raise InvalidRequest(f"the {name} is {kept.state.value}, not {expected.value}")
    box = await context.box(account_id)
    return ClaimedFlow(flow, box, box.open("flow", flow_id, flow.sealed), listed)


async def end_claim(
    context: WalletContext,
    claimed: ClaimedFlow,
    state: FlowState,
    content: dict[str, Any] | None = None,
    *,
    due_at: float | None = None,
    expires_at: float | None = None,
) -> bool:
    """Move the claimed flow out of ``busy`` to ``state``, with new sealed ``content`` when
    given. Nobody else moves a busy flow; False only when it expired and was purged
    while this step held it (the step's outcome stands: the flow had no later step). A
    flow left ``pending`` wakes this worker's deferred-credential poller."""
    flow = claimed.flow
    FLOW_MOVES[flow.kind].check(FlowState.BUSY, state)
    moved = await context.store.flows.move(
        flow.account_id,
        flow.flow_id,
        expected=FlowState.BUSY,
        state=state,
        sealed=None if content is None else claimed.box.seal("flow", flow.flow_id, content),
        due_at=due_at,
        expires_at=expires_at,
    )
    if moved and state is FlowState.PENDING:
        context.pending_changed.set()
    return moved
