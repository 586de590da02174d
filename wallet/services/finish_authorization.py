"""The citizen is back from the issuer's authorization page (OpenID4VCI 1.0 §5.2, RFC
6749 §4.1.2): the redirect to ``/wallet/callback`` is handed to the wallet (by the web
wallet's page, the phone app that claims the link, or ``idwallet wallet authorized``).

Before anything is sent on, the redirect must be this deployment's redirect URI, its
``state`` must name a flow of this citizen that waits for it and carry that flow's
secret, and its ``iss`` must be the authorization server the request went to (RFC 9207
§2.4: a missing or other ``iss`` may be a mix-up attack). Then the code is redeemed
(§6.1, with the PKCE verifier, the wallet attestation and a DPoP proof, RFC 9449 §5),
and the credentials are requested with key-attested proofs and verified before anything
is stored (``prepare_credential_requests``).

A redirect that does not belong to the flow leaves it waiting, untouched; every other
refusal ends it (``failed``), and an error from the issuer (the citizen said no, the
login failed) is passed on with the issuer's words.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs, urlsplit

from msgspec import UnsetType

from core.oauth import AUTHORIZATION_CODE_GRANT, TokenResponse
from wallet.domain import (
    CounterpartyError,
    Custody,
    FlowKind,
    FlowState,
    HolderKey,
    NotFound,
    Refused,
)
from wallet.services.authorization_plan import redirect_uri
from wallet.services.claim_flow import ClaimedFlow, claim_flow, end_claim
from wallet.services.context import WalletContext
from wallet.services.device_rounds import await_round
from wallet.services.holder_keys import KeptHolderKey
from wallet.services.interaction_messages import AuthorizationReturn, OfferOutcome
from wallet.services.issuer_client import read_answer
from wallet.services.offer_flow import AuthorizationPlan, OfferFlow, read_offer_flow
from wallet.services.prepare_credential_requests import holder_keys_for, prepare_requests
from wallet.services.refused_issuance import fail_issuance
from wallet.services.sender_constrained import PhoneMustSign, post_as_client

MAX_PARAMETER = 2048


class RedirectNotForThisFlow(Refused):
    """The redirect is not the one this flow waits for; the flow goes on waiting."""


def _parameters(context: WalletContext, url: str) -> dict[str, str]:
    """The query of a redirect to this deployment's redirect URI, each parameter once."""
    parts = urlsplit(url)
    expected = urlsplit(redirect_uri(context))
    if (parts.scheme, parts.netloc, parts.path) != (
        expected.scheme,
        expected.netloc,
        expected.path,
    ):
        raise Refused("this is not a redirect to this wallet's redirect URI")
    values = parse_qs(parts.query, keep_blank_values=True)
    if any(len(found) != 1 for found in values.values()):
        raise Refused("a parameter of the redirect appears more than once")
    parameters = {name: found[0] for name, found in values.items()}
    if any(len(value) > MAX_PARAMETER for value in parameters.values()):
        raise Refused("a parameter of the redirect is too long")
    return parameters


async def finish_authorization(
    context: WalletContext, account_id: str, body: AuthorizationReturn
) -> OfferOutcome:
    parameters = _parameters(context, body.redirect_url)
    flow_id, _, secret = parameters.get("state", "").partition(".")
    if not flow_id or not secret:
        raise Refused("the redirect has no state of this wallet's")
    if not isinstance(body.issuance_id, UnsetType) and body.issuance_id != flow_id:
        raise NotFound("the redirect is for another issuance")
    try:
        claimed = await claim_flow(
            context, account_id, flow_id, FlowKind.OFFER, FlowState.AUTHORIZATION_REQUIRED
        )
    except NotFound:
        raise NotFound("the redirect's state names no issuance of yours") from None
    flow = await read_offer_flow(context, claimed)
    plan = flow.authorization
    try:
        if plan is None or not hmac.compare_digest(secret, plan.state_secret):
            raise RedirectNotForThisFlow("the redirect's state is not this issuance's")
    except RedirectNotForThisFlow:
        await end_claim(context, claimed, FlowState.AUTHORIZATION_REQUIRED)
        raise
    try:
        _check_answer(plan, parameters)
        keys = holder_keys_for(context, claimed, flow, plan.custody, body.holder_keys)
    except BaseException as failed:
        await fail_issuance(context, claimed, flow, failed)
        raise
    flow.keys = [KeptHolderKey.of(key) for key in keys]
    plan.code = parameters["code"]
    return await _token_then_requests(context, claimed, flow, plan, keys, resumed=False)


async def resume_token(
    context: WalletContext, claimed: ClaimedFlow, flow: OfferFlow
) -> OfferOutcome:
    """The phone signed the token request's proofs: the code is redeemed with them."""
    plan = flow.authorization
    assert plan is not None  # only a flow with a plan waits for the token step
    keys = flow.holder_keys(claimed.box.account_id, context.clock.now())
    return await _token_then_requests(context, claimed, flow, plan, keys, resumed=True)


async def _token_then_requests(
    context: WalletContext,
    claimed: ClaimedFlow,
    flow: OfferFlow,
    plan: AuthorizationPlan,
    keys: list[HolderKey],
    *,
    resumed: bool,
) -> OfferOutcome:
    try:
        if plan.code is None:
            raise RuntimeError("a token request without the redirect's code")
        try:
            await _redeem(context, claimed, flow, plan, plan.code)
        except PhoneMustSign:
            return await await_round(context, claimed, flow, "token", again=resumed)
    except BaseException as failed:
        await fail_issuance(context, claimed, flow, failed)
        raise
    plan.code = None
    custody = Custody(plan.custody)
    return await prepare_requests(context, claimed, flow, keys=keys, custody=custody)


def _check_answer(plan: AuthorizationPlan, parameters: dict[str, str]) -> None:
    """RFC 9207 §2.4, then RFC 6749 §4.1.2.1: the server it came from, then its answer."""
    iss = parameters.get("iss")
    if iss is None:
        raise Refused("the redirect does not say which authorization server sent it (iss)")
    if iss != plan.authorization_server:
        raise Refused("the redirect comes from another authorization server than asked")
    error = parameters.get("error")
    if error is not None:
        said = parameters.get("error_description") or error
        raise CounterpartyError(error, said[:300])
    if not parameters.get("code"):
        raise Refused("the redirect carries neither a code nor an error")


async def _redeem(
    context: WalletContext,
    claimed: ClaimedFlow,
    flow: OfferFlow,
    plan: AuthorizationPlan,
    code: str,
) -> None:
    """§6.1 with RFC 7636 §4.5: the access token, and the identifiers of §6.2."""
    form = {
        "grant_type": AUTHORIZATION_CODE_GRANT,
        "code": code,
        "redirect_uri": plan.redirect_uri,
        "code_verifier": plan.code_verifier,
        "client_id": plan.client_id,
    }
    answer = await post_as_client(
        context, claimed.box, flow, flow.token_endpoint, "token endpoint", form=form
    )
    token = read_answer(answer.body, TokenResponse, "token endpoint")
    if plan.dpop and token.token_type.lower() != "dpop":
        raise Refused("the issuer answered a bearer token to a DPoP-bound request")
    flow.access_token = token.access_token
    flow.token_type = token.token_type
    flow.refresh_token = None if isinstance(token.refresh_token, UnsetType) else token.refresh_token
    if not isinstance(token.authorization_details, UnsetType):
        for detail in token.authorization_details:
            if detail.credential_configuration_id in flow.configurations:
                plan.credential_identifiers[detail.credential_configuration_id] = (
                    detail.credential_identifiers[0]
                )
