"""The citizen asks an issuer for a credential without an offer (wallet-initiated issuance,
OpenID4VCI 1.0 §3.4: "get my driving licence from the transport agency"): the issuer is
discovered and checked as for a scanned offer (``issuer_discovery``), the authorization
request is pushed (``authorization_plan``), and the citizen gets the URL to open. The
issuance is an offer flow like any other from then on, its id the ``issuance_id``."""

from __future__ import annotations

import uuid

from core.errors import ProtocolError
from wallet.domain import Custody, Flow, FlowKind, FlowState
from wallet.services.authorization_plan import authorization_url
from wallet.services.begin_authorization import keys_still_needed, take_custody
from wallet.services.context import WalletContext
from wallet.services.device_rounds import new_round
from wallet.services.interaction_messages import IssuanceStart, OfferOutcome
from wallet.services.issuer_client import IssuerClient
from wallet.services.issuer_discovery import discover_issuer
from wallet.services.refused_issuance import record_refused_issuance
from wallet.services.scan_offer import offer_flow
from wallet.services.sender_constrained import PhoneMustSign
from wallet.services.wallet_provider import attestation_for


async def start_issuance(
    context: WalletContext, account_id: str, body: IssuanceStart, language: str | None
) -> OfferOutcome:
    discovered = await discover_issuer(
        IssuerClient(context.outbound),
        body.credential_issuer,
        authorization_server_hint=None,
        language=language,
    )
    box = await context.box(account_id)
    flow = offer_flow(
        context,
        box,
        discovered,
        [body.credential_configuration_id],
        pre_authorized_code=None,
        tx_code=None,
        issuer_state=None,
    )
    custody = Custody(body.custody)
    for config_id, offered in flow.configurations.items():
        attestation_for(
            context.wallet_provider,
            config_id,
            custody,
            offered.key_attestations_required,
            context.server_keys.new_in,
        )
    now = context.clock.now()
    take_custody(box, flow, body, now)
    flow_id = str(uuid.uuid4())
    state, outcome = FlowState.AUTHORIZATION_REQUIRED, None
    try:
        url = await authorization_url(context, box, flow_id, flow)
    except PhoneMustSign:
        # the phone keeps the instance keys: it signs the pushed request's proof first
        state = FlowState.PROOFS_NEEDED
        outcome = OfferOutcome(
            offer_id=flow_id,
            status=state.value,
            signing_requests=new_round(context, flow, account_id, "push", again=False),
        )
    except ProtocolError as refused:
        await record_refused_issuance(context, box, flow, refused)
        raise
    await context.keep_flow(
        Flow(
            flow_id,
            account_id,
            FlowKind.OFFER,
            state,
            box.seal("flow", flow_id, flow.content()),
            now + context.policy.flow_lifetime,
        )
    )
    if outcome is not None:
        return outcome
    return OfferOutcome(
        offer_id=flow_id,
        status=state.value,
        authorization_url=url,
        holder_keys_needed=keys_still_needed(flow),
    )
