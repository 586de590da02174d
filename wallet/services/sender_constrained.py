"""Requests of the authorization code flow that carry the wallet instance's proofs:

- to the authorization server's token endpoint (``post_as_client``): the wallet
  attestation and its proof of possession where the server takes them (HAIP 1.0 §4.3),
  and a DPoP proof where its tokens are DPoP-bound (RFC 9449 §5);
- with the access token (``post_with_token``): ``Authorization: Bearer``, or ``DPoP``
  with a proof over this request and this token (``ath``, §7.1).

A server that asks for a DPoP nonce (``use_dpop_nonce``, §8 and §9) gets the request once
more with a fresh proof carrying it; asked again, the wallet gives up, so a server that
never takes its own nonce cannot keep it in a loop. The newest nonce each server hands out
is kept with the flow for its next proof, and by the worker for the next flow's first.

Keys held here sign each proof as the request is made. Keys on the phone cannot: their
proofs were signed by the phone beforehand (``device_rounds``) and are taken from the
plan, one per request; a request whose proof is missing, or must be made again with a new
nonce, stops the step with ``PhoneMustSign`` and the phone is asked to sign once more.
"""

from __future__ import annotations

from collections.abc import Mapping

from msgspec import UnsetType

from core.oauth import REFRESH_TOKEN_GRANT, TokenResponse
from wallet.domain import CounterpartyFailed, DpopNonceRequired
from wallet.services.context import WalletContext
from wallet.services.instance_keys import dpop_target
from wallet.services.issuer_client import IssuerClient, PostAnswer, read_answer
from wallet.services.offer_flow import AuthorizationPlan, OfferFlow
from wallet.services.sealing import AccountBox

#: Requests made with the server's newest nonce after it asked for one.
NONCE_RETRIES = 1
#: Seconds a server's nonce is offered to the next flow (servers keep theirs longer).
NONCE_KEPT_FOR = 60.0
#: Servers whose nonce a worker keeps at most.
MAX_REMEMBERED_SERVERS = 1000


class PhoneMustSign(Exception):
    """A request of this step needs a proof by a key on the phone that the phone has not
    signed (yet): the step waits for the phone (``device_rounds``)."""


def pop_slot(audience: str) -> str:
    """The name a phone-signed attestation PoP for ``audience`` is kept under."""
    return f"pop {audience}"


def dpop_slot(method: str, url: str) -> str:
    """The name a phone-signed DPoP proof for a request to ``url`` is kept under."""
    return f"dpop {method} {dpop_target(url)}"


def _take(plan: AuthorizationPlan, name: str) -> str:
    signed = plan.presigned.get(name)
    if not signed:
        raise PhoneMustSign(name)
    return signed.pop(0)


def client_attestation(
    context: WalletContext, box: AccountBox, plan: AuthorizationPlan
) -> dict[str, str]:
    """The wallet attestation and its proof of possession for the authorization server."""
    provider = context.wallet_provider
    assert provider is not None  # plan_authorization
    now = int(context.clock.now())
    keys = plan.keys
    if keys.on_device:
        pop = _take(plan, pop_slot(plan.authorization_server))
    else:
        pop = keys.sign_here(
            context.server_keys,
            box,
            "attestation",
            keys.pop_input(provider, plan.authorization_server, now),
        )
    return keys.attestation_headers(provider, pop, now)


def dpop_proof(
    context: WalletContext,
    box: AccountBox,
    plan: AuthorizationPlan,
    url: str,
    access_token: str | None = None,
) -> str:
    """A DPoP proof for a POST to ``url`` (with ``access_token``, when sent with one)."""
    keys = plan.keys
    if keys.on_device:
        return _take(plan, dpop_slot("POST", url))
    signing_input = keys.dpop_input(
        "POST",
        url,
        now=int(context.clock.now()),
        nonce=known_nonce(context, plan, url),
        access_token=access_token,
    )
    return keys.sign_here(context.server_keys, box, "dpop", signing_input)


def known_nonce(context: WalletContext, plan: AuthorizationPlan, url: str) -> str | None:
    """The server's newest nonce this flow knows, else the newest this worker was handed
    by that server for any flow (a nonce is the server's, not a citizen's: it saves the
    round trip of asking, RFC 9449 §8.2)."""
    known = plan.nonce_for(url)
    if known is not None:
        return known
    kept = context.dpop_nonces.get(plan.nonce_scope(url))
    if kept is None or kept[0] <= context.clock.now():
        return None
    return kept[1]


def remember_nonce(context: WalletContext, plan: AuthorizationPlan, url: str, nonce: str) -> None:
    plan.remember_nonce(url, nonce)
    if len(context.dpop_nonces) >= MAX_REMEMBERED_SERVERS:
        context.dpop_nonces.clear()
    context.dpop_nonces[plan.nonce_scope(url)] = (context.clock.now() + NONCE_KEPT_FOR, nonce)


def _plan(flow: OfferFlow) -> AuthorizationPlan:
    if flow.authorization is None:
        raise RuntimeError("a sender-constrained request of a flow without a plan")
    return flow.authorization


async def post_as_client(
    context: WalletContext,
    box: AccountBox,
    flow: OfferFlow,
    url: str,
    what: str,
    *,
    form: Mapping[str, str],
) -> PostAnswer:
    """POST ``form`` to the authorization server as this wallet instance."""
    plan = _plan(flow)
    for attempt in range(NONCE_RETRIES + 1):
        headers: dict[str, str] = {}
        if plan.attested:
            headers.update(client_attestation(context, box, plan))
        if plan.dpop:
            headers["DPoP"] = dpop_proof(context, box, plan, url)
        answer = await _exchange(context, plan, url, what, attempt, form=form, headers=headers)
        if answer is not None:
            return answer
    raise AssertionError("unreachable: the last attempt returns or raises")


async def post_with_token(
    context: WalletContext,
    box: AccountBox,
    flow: OfferFlow,
    url: str,
    what: str,
    *,
    json_body: object = None,
    content: bytes | None = None,
    content_type: str | None = None,
) -> PostAnswer:
    """POST ``json_body`` (or ``content`` of ``content_type``) with the flow's access
    token, bound or not."""
    token = flow.access_token
    if token is None:
        raise RuntimeError("a request with the access token before there is one")
    typed = {} if content_type is None else {"Content-Type": content_type}
    plan = flow.authorization
    if plan is None or flow.token_type.lower() != "dpop":
        return await IssuerClient(context.outbound).exchange(
            url,
            what,
            json_body=json_body,
            content=content,
            headers={"Authorization": f"Bearer {token}", **typed},
        )
    for attempt in range(NONCE_RETRIES + 1):
        proof = dpop_proof(context, box, plan, url, token)
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof, **typed}
        answer = await _exchange(
            context,
            plan,
            url,
            what,
            attempt,
            json_body=json_body,
            content=content,
            headers=headers,
        )
        if answer is not None:
            return answer
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _exchange(
    context: WalletContext,
    plan: AuthorizationPlan,
    url: str,
    what: str,
    attempt: int,
    *,
    headers: dict[str, str],
    form: Mapping[str, str] | None = None,
    json_body: object = None,
    content: bytes | None = None,
) -> PostAnswer | None:
    """The answer; None when the server asked for a nonce and may be asked again."""
    try:
        answer = await IssuerClient(context.outbound).exchange(
            url, what, form=form, json_body=json_body, content=content, headers=headers
        )
    except DpopNonceRequired as asked:
        if plan.keys.on_device and attempt < NONCE_RETRIES:
            # the phone signs the proof with the new nonce, in another round
            remember_nonce(context, plan, url, asked.nonce)
            raise PhoneMustSign(what) from asked
        if attempt >= NONCE_RETRIES:
            raise CounterpartyFailed(f"the {what} keeps asking for a new DPoP nonce") from asked
        remember_nonce(context, plan, url, asked.nonce)
        return None
    if answer.dpop_nonce is not None:
        remember_nonce(context, plan, url, answer.dpop_nonce)
    return answer


async def renew_access_token(context: WalletContext, box: AccountBox, flow: OfferFlow) -> None:
    """RFC 6749 §6: a new access token (and the rotated refresh token)."""
    plan = flow.authorization
    assert plan is not None and flow.refresh_token is not None
    answer = await post_as_client(
        context,
        box,
        flow,
        flow.token_endpoint,
        "token endpoint",
        form={
            "grant_type": REFRESH_TOKEN_GRANT,
            "refresh_token": flow.refresh_token,
            "client_id": plan.client_id,
        },
    )
    token = read_answer(answer.body, TokenResponse, "token endpoint")
    flow.access_token, flow.token_type = token.access_token, token.token_type
    if not isinstance(token.refresh_token, UnsetType):
        flow.refresh_token = token.refresh_token
