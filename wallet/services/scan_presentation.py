"""A presentation request scanned (OpenID4VP 1.0 §5): fetched and checked
(``request_object``), kept as a presentation flow for the citizen's answer, and shown as
the consent view (``consent``): who asks, for what, and which credentials can answer;
when the registration says a purpose serves an issuance, with the citizen's issuances
waiting for an issuer's authorization (``issuance_context``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from msgspec import UnsetType

from wallet.domain import Flow, FlowKind, FlowState
from wallet.services.consent import consent_view
from wallet.services.context import WalletContext
from wallet.services.interaction_messages import ConsentView
from wallet.services.issuance_context import waiting_issuances
from wallet.services.mediation_guard import refuse_issuance_login
from wallet.services.presentation_flow import PresentationFlow, holdings
from wallet.services.registration import serves_issuance
from wallet.services.request_object import checked_request


async def scan_request(
    context: WalletContext, account_id: str, parameters: dict[str, str], preferred: Sequence[str]
) -> ConsentView:
    request = await checked_request(context, parameters)
    await refuse_issuance_login(context, request)
    box = await context.box(account_id)
    flow_id = str(uuid.uuid4())
    expires = context.clock.now() + context.policy.flow_lifetime
    if not isinstance(request.request.exp, UnsetType):  # never kept beyond the request's own
        expires = min(expires, float(request.request.exp))
    listed = await context.keep_flow_listing(
        Flow(
            flow_id,
            account_id,
            FlowKind.PRESENTATION,
            FlowState.CONSENT_NEEDED,
            box.seal("flow", flow_id, PresentationFlow(request).sealable()),
            expires,
        )
    )
    waiting = (
        await waiting_issuances(context, account_id, box, preferred)
        if request.registration is not None and serves_issuance(request.registration)
        else []
    )
    return consent_view(
        context,
        flow_id,
        expires,
        request,
        await holdings(context, box, listed),
        preferred=preferred,
        waiting=waiting,
    )
