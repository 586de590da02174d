"""The citizen's issuances whose credentials the issuer deferred (OpenID4VCI 1.0 §9):
what is still to come from whom, and when the wallet asks next."""

from __future__ import annotations

from wallet.services.context import WalletContext
from wallet.services.display import pick
from wallet.services.interaction_messages import (
    PendingCredential,
    PendingIssuance,
    PendingIssuances,
)
from wallet.services.offer_flow import OfferFlow
from wallet.services.sealing import AccountBox


async def list_pending(context: WalletContext, account_id: str) -> PendingIssuances:
    flows = await context.store.flows.pending(account_id, context.clock.now())
    if not flows:
        return PendingIssuances(issuances=[])
    box = await context.box(account_id)
    return PendingIssuances(issuances=[_pending(box, flow.flow_id, flow.sealed) for flow in flows])


def _pending(box: AccountBox, flow_id: str, sealed: bytes) -> PendingIssuance:
    flow = OfferFlow.opened(box.open("flow", flow_id, sealed))
    issuer_display = pick(flow.issuer_display, []) or {}
    return PendingIssuance(
        issuance_id=flow_id,
        issuer=flow.issuer,
        issuer_name=issuer_display.get("name", flow.issuer),
        fetch_by_phone=flow.authorization is not None and flow.authorization.keys.on_device,
        pending=[
            PendingCredential(
                credential_configuration_id=item.configuration_id,
                name=(pick(flow.configurations[item.configuration_id].display, []) or {}).get(
                    "name", item.configuration_id
                ),
                next_check_at=int(item.due_at),
            )
            for item in flow.deferred
        ],
    )
