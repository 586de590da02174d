"""A credential the issuer deferred (OpenID4VCI 1.0 §9), asked for again: by the
deferred-credential poller when it is due (``poll_deferred``: the issuer's ``interval``,
within the wallet's bounds), or when the citizen asks (``POST /wallet/issuances/{id}/fetch``).

Each deferred credential is asked for with its ``transaction_id`` at the deferred
credential endpoint (§9.1), with the access token as it is bound (DPoP), encrypted as the
issuer's metadata says (§10). An access token that expired meanwhile is renewed with the
refresh token first (RFC 6749 §6, with the wallet attestation and a DPoP proof of the
issuance's key). What arrives is verified and stored like any credential, the citizen's
activity log says so, and the issuer is told (§11); what is still pending is asked for
again after the interval the issuer names (§9.2: 202 with the same ``transaction_id``).
The issuer's refusal (``invalid_transaction_id``, a refused application) ends the
issuance, in the activity log; an issuer that cannot be reached is asked again after the
interval, and what arrived before is kept.

Where the issuance's keys are on the phone, the poller cannot ask: the issuance
stays pending, listed with ``fetch_by_phone``, and the phone asks when it is due; each
request's proof (and the token renewal's) is handed to the phone to sign first
(``device_rounds``), and the phone completes with ``POST /wallet/offers/{id}/complete``.
"""

from __future__ import annotations

import logging

from msgspec import UnsetType

from core.oid4vci import CredentialResponse, DeferredCredentialRequest
from wallet.domain import (
    CounterpartyError,
    CounterpartyFailed,
    FlowKind,
    FlowState,
    NotificationKind,
)
from wallet.services.assistance import marked_as
from wallet.services.claim_flow import ClaimedFlow, claim_flow
from wallet.services.context import WalletContext
from wallet.services.device_rounds import Step, await_round, phone_signs
from wallet.services.display import pick
from wallet.services.interaction_messages import OfferOutcome
from wallet.services.issuer_client import read_answer
from wallet.services.notification_messages import NotificationContent
from wallet.services.notifications import tell
from wallet.services.offer_flow import DeferredCredential, OfferFlow, read_offer_flow
from wallet.services.refused_issuance import fail_issuance
from wallet.services.request_credentials import (
    Received,
    deferral_interval,
    keep_received,
    verified,
)
from wallet.services.response_encryption import seal_request
from wallet.services.sender_constrained import (
    PhoneMustSign,
    post_with_token,
    renew_access_token,
)

log = logging.getLogger("idwallet.wallet")


async def fetch_deferred(context: WalletContext, account_id: str, flow_id: str) -> OfferOutcome:
    claimed = await claim_flow(context, account_id, flow_id, FlowKind.OFFER, FlowState.PENDING)
    flow = await read_offer_flow(context, claimed)
    return await _fetch(context, claimed, flow, "deferred", resumed=False)


async def resume_deferred(
    context: WalletContext, claimed: ClaimedFlow, flow: OfferFlow
) -> OfferOutcome:
    """The phone signed the proofs of asking (``deferred``) or of renewing the access
    token first (``refresh``)."""
    step: Step = (
        "refresh" if flow.round is not None and flow.round.step == "refresh" else "deferred"
    )
    return await _fetch(context, claimed, flow, step, resumed=True)


class _TokenExpired(Exception):
    """The access token expired, and the phone signs the proofs of renewing it."""


async def _fetch(
    context: WalletContext,
    claimed: ClaimedFlow,
    flow: OfferFlow,
    step: Step,
    *,
    resumed: bool,
) -> OfferOutcome:
    """Accepted through a mediation: what arrives is marked as received with its help."""
    with marked_as(flow.assisted_by):
        return await _fetch_marked(context, claimed, flow, step, resumed=resumed)


async def _fetch_marked(
    context: WalletContext,
    claimed: ClaimedFlow,
    flow: OfferFlow,
    step: Step,
    *,
    resumed: bool,
) -> OfferOutcome:
    now = context.clock.now()
    keys = flow.holder_keys(claimed.box.account_id, now)
    received: list[Received] = []
    notifications: list[str] = []
    try:
        if step == "refresh":
            try:
                await renew_access_token(context, claimed.box, flow)
            except PhoneMustSign:
                return await _await_phone(context, claimed, flow, "refresh", again=resumed)
            # the requests with the new token need proofs of their own
            return await _await_phone(context, claimed, flow, "deferred", again=False)
        for item in list(flow.deferred):
            try:
                answer = await _deferred_response(context, claimed, flow, item)
            except (PhoneMustSign, _TokenExpired) as paused:
                if received:  # keep what arrived; the phone asks for the rest again
                    break
                again_step: Step = "refresh" if isinstance(paused, _TokenExpired) else "deferred"
                return await _await_phone(
                    context, claimed, flow, again_step, again=resumed and again_step == step
                )
            if isinstance(answer.credentials, UnsetType):
                interval = deferral_interval(context, answer)
                item.interval, item.due_at = interval, now + interval
                continue
            notification_id = (
                None if isinstance(answer.notification_id, UnsetType) else answer.notification_id
            )
            received.append(
                await verified(
                    context,
                    claimed.box,
                    flow,
                    item,
                    keys=keys,
                    credentials=answer.credentials,
                    notification_id=notification_id,
                )
            )
            if notification_id is not None:
                notifications.append(notification_id)
            flow.deferred.remove(item)
    except CounterpartyFailed as unreachable:
        # the issuer cannot be reached now: what arrived is kept, the rest asked for again
        # after its interval
        log.info("deferred credentials of flow %s: %s", claimed.flow_id, unreachable.error)
        for item in flow.deferred:
            item.due_at = now + item.interval
    except BaseException as failed:
        await fail_issuance(context, claimed, flow, failed)
        raise
    outcome = await keep_received(context, claimed, flow, received, notifications)
    await _tell_ready(context, claimed, flow, outcome)
    return outcome


async def _tell_ready(
    context: WalletContext, claimed: ClaimedFlow, flow: OfferFlow, outcome: OfferOutcome
) -> None:
    """The citizen is told of each deferred credential that arrived (the activity log has
    its ``credential_received`` entry already)."""
    if isinstance(outcome.credentials, UnsetType):
        return
    issuer_name = (pick(flow.issuer_display, []) or {}).get("name", flow.issuer)
    for arrived in outcome.credentials:
        await tell(
            context,
            claimed.box,
            NotificationKind.DEFERRED_READY,
            NotificationContent(
                credential_id=arrived.credential_id,
                credential=arrived.name,
                issuer=flow.issuer,
                issuer_name=issuer_name,
            ),
        )


async def _await_phone(
    context: WalletContext, claimed: ClaimedFlow, flow: OfferFlow, step: Step, *, again: bool
) -> OfferOutcome:
    """The issuance stays pending (listed, never asked about by the poller) while
    the phone signs the proofs of ``step``."""
    return await await_round(context, claimed, flow, step, again=again, state=FlowState.PENDING)


async def _deferred_response(
    context: WalletContext, claimed: ClaimedFlow, flow: OfferFlow, item: DeferredCredential
) -> CredentialResponse:
    """§9.1-§9.2: the issuer's answer for one deferred credential, the access token
    renewed once if it expired."""
    assert flow.deferred_endpoint is not None  # request_credentials.deferred
    message = DeferredCredentialRequest(transaction_id=item.transaction_id)
    for renewed in (False, True):
        sealed = seal_request(message, flow.encryption)
        try:
            answer = await post_with_token(
                context,
                claimed.box,
                flow,
                flow.deferred_endpoint,
                "deferred credential endpoint",
                content=sealed.content,
                content_type=sealed.content_type,
            )
        except CounterpartyError as refused:
            if refused.remote_error != "invalid_token" or renewed or flow.refresh_token is None:
                raise
            if phone_signs(flow):
                raise _TokenExpired from refused
            await renew_access_token(context, claimed.box, flow)
            continue
        return read_answer(
            sealed.open(answer.jwt, answer.body), CredentialResponse, "deferred credential endpoint"
        )
    raise AssertionError("unreachable: the second attempt returns or raises")
