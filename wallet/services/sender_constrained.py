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
"""

from __future__ import annotations

from collections.abc import Mapping

from msgspec import UnsetType

from core.oauth import REFRESH_TOKEN_GRANT, TokenResponse
from wallet.domain import CounterpartyFailed, DpopNonceRequired
from wallet.services.context import WalletContext
from wallet.services.issuer_client import IssuerClient, PostAnswer, read_answer
from wallet.services.offer_flow import AuthorizationPlan, OfferFlow, server_of
from wallet.services.sealing import AccountBox

#: Requests made with the server's newest nonce after it asked for one.
NONCE_RETRIES = 1
#: Seconds a server's nonce is offered to the next flow (servers keep theirs longer).
NONCE_KEPT_FOR = 60.0
#: Servers whose nonce a worker keeps at most.
MAX_REMEMBERED_SERVERS = 1000


def _nonce(context: WalletContext, plan: AuthorizationPlan, url: str) -> str | None:
    """The server's newest nonce this flow knows, else the newest this worker was handed
    by that server for any flow (a nonce is the server's, not a citizen's: it saves the
    round trip of asking, RFC 9449 §8.2)."""
    known = plan.nonce_for(url)
    if known is not None:
        return known
    kept = context.dpop_nonces.get(server_of(url))
    if kept is None or kept[0] <= context.clock.now():
        return None
    return kept[1]


def _remember(context: WalletContext, plan: AuthorizationPlan, url: str, nonce: str) -> None:
    plan.remember_nonce(url, nonce)
    if len(context.dpop_nonces) >= MAX_REMEMBERED_SERVERS:
        context.dpop_nonces.clear()
    context.dpop_nonces[server_of(url)] = (context.clock.now() + NONCE_KEPT_FOR, nonce)


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
        now = int(context.clock.now())
        headers: dict[str, str] = {}
        if plan.attested:
            assert context.wallet_provider is not None  # plan_authorization
            headers.update(
                plan.keys.client_attestation(
                    box, context.wallet_provider, audience=plan.authorization_server, now=now
                )
            )
        if plan.dpop:
            headers["DPoP"] = plan.keys.dpop_proof(
                box, "POST", url, now=now, nonce=_nonce(context, plan, url)
            )
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
        proof = plan.keys.dpop_proof(
            box,
            "POST",
            url,
            now=int(context.clock.now()),
            nonce=_nonce(context, plan, url),
            access_token=token,
        )
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
        if attempt >= NONCE_RETRIES:
            raise CounterpartyFailed(f"the {what} keeps asking for a new DPoP nonce") from asked
        _remember(context, plan, url, asked.nonce)
        return None
    if answer.dpop_nonce is not None:
        _remember(context, plan, url, answer.dpop_nonce)
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
