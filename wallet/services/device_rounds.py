"""Issuance with the wallet instance's keys on the phone (the citizen keeps their keys on
the device): every request of the authorization code flow that carries a proof of those
keys (the wallet attestation's proof of possession, DPoP proofs) waits until the phone
has signed it.

A step (``push``: the pushed authorization request; ``token``: the code's redemption;
``credentials``: the credential requests, with the holder keys' proofs; ``deferred``:
asking for deferred credentials; ``refresh``: renewing the access token for them) runs
until its first request needs a proof the phone has not signed (``PhoneMustSign``). Then
the flow waits in ``proofs_needed`` with the signing inputs of every proof the step needs
(``await_round``); the phone signs them and sends the signatures to
``POST /wallet/offers/{id}/complete`` (``accept_signatures``, each checked against its
key), and the step runs again with them. A server that asks for a new DPoP nonce
(RFC 9449 §8) sends the step round once more, a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from core.encoding import b64url_decode, b64url_encode
from wallet.domain import CounterpartyFailed, FlowState, HolderKey
from wallet.services.claim_flow import ClaimedFlow, end_claim
from wallet.services.context import WalletContext
from wallet.services.holder_keys import device_signatures, keys_of, signing_request
from wallet.services.instance_keys import InstanceKeyUse
from wallet.services.interaction_messages import OfferOutcome, SigningRequest
from wallet.services.offer_flow import AuthorizationPlan, DeviceRound, OfferFlow, ProofSlot
from wallet.services.sender_constrained import dpop_slot, known_nonce, pop_slot

Step = Literal["push", "token", "credentials", "deferred", "refresh"]

#: Rounds a step is sent again for a server's new nonce.
MAX_REPEATS = 2


def _plan(flow: OfferFlow) -> AuthorizationPlan:
    if flow.authorization is None:
        raise RuntimeError("a round of signing for a flow without a plan")
    return flow.authorization


def phone_signs(flow: OfferFlow) -> bool:
    """Whether the instance keys of this flow are on the phone."""
    return flow.authorization is not None and flow.authorization.keys.on_device


def _slots(context: WalletContext, flow: OfferFlow, step: Step) -> list[ProofSlot]:
    """The proofs of the instance keys the step's requests need, made with the newest
    nonces known."""
    plan = _plan(flow)
    keys = plan.keys
    now = int(context.clock.now())
    slots = []
    if step in ("push", "token", "refresh") and plan.attested:
        provider = context.wallet_provider
        assert provider is not None  # plan_authorization
        audience = plan.authorization_server
        slots.append(
            ProofSlot(
                name=pop_slot(audience),
                use="attestation",
                signing_input=keys.pop_input(provider, audience, now),
            )
        )
    if step == "push" or not plan.dpop:
        return slots

    def dpop(url: str, token: str | None) -> ProofSlot:
        return ProofSlot(
            name=dpop_slot("POST", url),
            use="dpop",
            signing_input=keys.dpop_input(
                "POST", url, now=now, nonce=known_nonce(context, plan, url), access_token=token
            ),
        )

    if step in ("token", "refresh"):
        return [*slots, dpop(flow.token_endpoint, None)]
    token = flow.access_token
    if step == "credentials":
        targets = [flow.credential_endpoint] * len(flow.requests)
    else:
        assert flow.deferred_endpoint is not None  # request_credentials.deferred
        targets = [flow.deferred_endpoint] * len(flow.deferred)
    for target in targets:
        slots.append(dpop(target, token))
        if flow.notification_endpoint:
            slots.append(dpop(flow.notification_endpoint, token))
    return slots


def _holder_inputs(flow: OfferFlow, keys: Sequence[HolderKey]) -> list[tuple[HolderKey, str]]:
    """The holder keys' proofs the phone still has to sign (§8.2.1.1)."""
    round_ = flow.round
    if round_ is not None and (not round_.holder_proofs or round_.holder_signatures):
        return []
    return [
        (key, signing_input)
        for request in flow.requests
        for key, signing_input in zip(
            keys_of(keys, request.key_ids), request.signing_inputs, strict=True
        )
    ]


def _instance_inputs(
    context: WalletContext, flow: OfferFlow, account_id: str
) -> list[tuple[HolderKey, ProofSlot]]:
    if flow.round is None:
        return []
    keys = _plan(flow).keys
    now = context.clock.now()
    return [(keys.key(slot.use).holder_key(account_id, now), slot) for slot in flow.round.slots]


_USES: dict[InstanceKeyUse, Literal["client_attestation_pop", "dpop"]] = {
    "attestation": "client_attestation_pop",
    "dpop": "dpop",
}


def signing_requests(
    context: WalletContext, flow: OfferFlow, account_id: str, keys: Sequence[HolderKey]
) -> list[SigningRequest]:
    """What the phone signs, in the order it sends the signatures back."""
    requests = []
    for key, signing_input in _holder_inputs(flow, keys):
        request = signing_request(key, signing_input.encode("ascii"))
        request.use = "key_proof"
        requests.append(request)
    for key, slot in _instance_inputs(context, flow, account_id):
        request = signing_request(key, slot.signing_input.encode("ascii"))
        request.use = _USES[slot.use]
        requests.append(request)
    return requests


def accept_signatures(
    context: WalletContext,
    flow: OfferFlow,
    account_id: str,
    keys: Sequence[HolderKey],
    signatures: Sequence[str],
) -> list[bytes]:
    """The phone's signatures, each checked against its key: the instance keys' proofs
    are kept for the step's requests; the holder keys' proof signatures are returned (the
    ones of an earlier round of the step, when it was sent again)."""
    holder = _holder_inputs(flow, keys)
    instance = _instance_inputs(context, flow, account_id)
    checked = device_signatures(
        [key for key, _ in holder] + [key for key, _ in instance],
        [signing_input for _, signing_input in holder]
        + [slot.signing_input for _, slot in instance],
        signatures,
    )
    if instance:
        plan = _plan(flow)
        plan.presigned = {}
        for (_, slot), signature in zip(instance, checked[len(holder) :], strict=True):
            plan.presigned.setdefault(slot.name, []).append(
                slot.signing_input + "." + b64url_encode(signature)
            )
    if flow.round is not None and flow.round.holder_signatures:
        return [b64url_decode(kept) for kept in flow.round.holder_signatures]
    return checked[: len(holder)]


def new_round(
    context: WalletContext,
    flow: OfferFlow,
    account_id: str,
    step: Step,
    *,
    again: bool,
    holder_signatures: Sequence[bytes] = (),
) -> list[SigningRequest]:
    """Set the flow waiting for the phone's signatures of ``step``'s proofs, and what the
    phone signs; ``again`` when the step ran with the phone's proofs and the server wants
    new ones."""
    repeated = 0
    if again:
        previous = flow.round
        repeated = 1 + (0 if previous is None else previous.repeated)
        if repeated > MAX_REPEATS:
            raise CounterpartyFailed("the issuer keeps asking for proofs with a new DPoP nonce")
    plan = _plan(flow)
    plan.presigned = {}
    flow.round = DeviceRound(
        step=step,
        slots=_slots(context, flow, step),
        holder_proofs=step == "credentials",
        holder_signatures=[b64url_encode(s) for s in holder_signatures],
        repeated=repeated,
    )
    keys = flow.holder_keys(account_id, context.clock.now())
    return signing_requests(context, flow, account_id, keys)


async def await_round(
    context: WalletContext,
    claimed: ClaimedFlow,
    flow: OfferFlow,
    step: Step,
    *,
    again: bool,
    holder_signatures: Sequence[bytes] = (),
    state: FlowState = FlowState.PROOFS_NEEDED,
) -> OfferOutcome:
    """``new_round`` for a claimed flow, which waits for the phone in ``state``
    (``proofs_needed``; a deferred issuance stays ``pending``)."""
    requests = new_round(
        context,
        flow,
        claimed.box.account_id,
        step,
        again=again,
        holder_signatures=holder_signatures,
    )
    await end_claim(context, claimed, state, flow.content())
    return OfferOutcome(
        offer_id=claimed.flow_id,
        status=FlowState.PROOFS_NEEDED.value,
        signing_requests=requests,
    )
