"""The citizen accepts a scanned offer (OpenID4VCI 1.0).

Pre-authorized code (§3.5): the token request with the code and the transaction code
(§6.1), then the credential requests (``prepare_credential_requests``). Authorization
code (§3.4): the request is pushed to the issuer's authorization server and the citizen
is sent there (``begin_authorization``); ``finish_authorization`` goes on from the
redirect.
"""

from __future__ import annotations

from msgspec import UnsetType

from core.errors import InvalidRequest
from core.messages import to_plain
from core.oauth import PRE_AUTHORIZED_GRANT, TokenRequest, TokenResponse
from wallet.domain import CounterpartyError, Custody, FlowKind, FlowState, OfferUnavailable
from wallet.services.begin_authorization import begin_authorization
from wallet.services.claim_flow import claim_flow, end_claim
from wallet.services.context import WalletContext
from wallet.services.interaction_messages import OfferAcceptance, OfferOutcome
from wallet.services.issuer_client import IssuerClient, read_answer
from wallet.services.mediation_guard import mediation_still_live
from wallet.services.offer_flow import OfferFlow, read_offer_flow
from wallet.services.prepare_credential_requests import holder_keys_for, prepare_requests
from wallet.services.wallet_provider import attestation_for


async def accept_offer(
    context: WalletContext, account_id: str, offer_id: str, body: OfferAcceptance
) -> OfferOutcome:
    tx_code = None if isinstance(body.tx_code, UnsetType) else body.tx_code
    claimed = await claim_flow(context, account_id, offer_id, FlowKind.OFFER, FlowState.OFFERED)
    flow = await read_offer_flow(context, claimed)
    custody = Custody(body.custody)
    try:
        if flow.tx_code is not None and tx_code is None:
            raise InvalidRequest("this offer needs the transaction code sent to the citizen")
        for config_id, offered in flow.configurations.items():
            # before the code is spent: what the issuer requires, this wallet can attest
            attestation_for(
                context.wallet_provider,
                config_id,
                custody,
                offered.key_attestations_required,
                context.server_keys.new_in,
            )
        if flow.pre_authorized_code is None:
            return await begin_authorization(context, claimed, flow, body)
        keys = holder_keys_for(context, claimed, flow, body.custody, body.holder_keys)
        await mediation_still_live(context)  # before the offer's code is spent
        token = await _token(context, flow, flow.pre_authorized_code, tx_code)
        flow.access_token = read_answer(token, TokenResponse, "token endpoint").access_token
    except BaseException:
        await end_claim(context, claimed, FlowState.OFFERED)
        raise
    return await prepare_requests(context, claimed, flow, keys=keys, custody=custody)


async def _token(
    context: WalletContext, flow: OfferFlow, pre_authorized_code: str, tx_code: str | None
) -> object:
    """§6.1: the token endpoint's answer to the pre-authorized code (and tx_code)."""
    request = TokenRequest(grant_type=PRE_AUTHORIZED_GRANT, pre_authorized_code=pre_authorized_code)
    if tx_code is not None:
        request.tx_code = tx_code
    try:
        _, token = await IssuerClient(context.outbound).post(
            flow.token_endpoint, "token endpoint", form=to_plain(request)
        )
    except CounterpartyError as exc:
        if exc.remote_error == "invalid_grant" and tx_code is None:
            raise OfferUnavailable(
                "this offer was used already or has expired; the agency can make a new one"
            ) from exc
        raise
    return token
