"""The citizen accepts a scanned offer (OpenID4VCI 1.0).

The token request with the pre-authorized code and the transaction code (§6.1), a fresh
``c_nonce`` per credential request where the issuer has a nonce endpoint (§7), one fresh
holder key per instance of a batch (§8.2 ``proofs``, up to the issuer's ``batch_size``)
and the signing input of each key proof (§8.2.1.1 ``openid4vci-proof+jwt``). Keys held
here sign at once and the credentials are requested; keys on the phone get their signing
inputs back (``proofs_needed``) and ``complete_offer`` goes on.
"""

from __future__ import annotations

from typing import Any

from msgspec import UnsetType

from core.encoding import b64url_encode, json_dumps_bytes
from core.errors import InvalidRequest
from core.messages import to_plain
from core.oauth import PRE_AUTHORIZED_GRANT, TokenRequest, TokenResponse
from core.oid4vci import NonceResponse
from wallet.domain import (
    CounterpartyError,
    Custody,
    FlowKind,
    FlowState,
    HolderKey,
    OfferUnavailable,
)
from wallet.services.claim_flow import ClaimedFlow, claim_flow, end_claim
from wallet.services.context import WalletContext
from wallet.services.holder_keys import (
    HOLDER_ALGORITHM,
    device_keys,
    new_server_keys,
    server_signer,
    signing_request,
)
from wallet.services.interaction_messages import OfferAcceptance, OfferOutcome
from wallet.services.issuer_client import IssuerClient, read_answer
from wallet.services.offer_flow import (
    KeptHolderKey,
    OfferFlow,
    PreparedCredentialRequest,
    read_offer_flow,
)
from wallet.services.request_credentials import keys_of, request_credentials
from wallet.services.wallet_provider import WalletProvider, attestation_for

PROOF_TYP = "openid4vci-proof+jwt"


def _proof_signing_input(
    key: HolderKey,
    audience: str,
    nonce: str | None,
    now: int,
    provider: WalletProvider | None,
) -> str:
    """§8.2.1.1: the JOSE header and claims of a key proof, ready to be signed; with the
    key's attestation in its ``key_attestation`` header where ``provider`` is given
    (Appendix F.1)."""
    header: dict[str, Any] = {"alg": HOLDER_ALGORITHM, "typ": PROOF_TYP, "jwk": key.public_jwk}
    if provider is not None:
        header["key_attestation"] = provider.key_attestation(key, nonce=nonce, now=now)
    payload: dict[str, Any] = {"aud": audience, "iat": now}
    if nonce is not None:
        payload["nonce"] = nonce
    return b64url_encode(json_dumps_bytes(header)) + "." + b64url_encode(json_dumps_bytes(payload))


async def accept_offer(
    context: WalletContext, account_id: str, offer_id: str, body: OfferAcceptance
) -> OfferOutcome:
    tx_code = None if isinstance(body.tx_code, UnsetType) else body.tx_code
    claimed = await claim_flow(context, account_id, offer_id, FlowKind.OFFER, FlowState.OFFERED)
    flow = await read_offer_flow(context, claimed)
    try:
        if flow.tx_code is not None and tx_code is None:
            raise InvalidRequest("this offer needs the transaction code sent to the citizen")
        for config_id, offered in flow.configurations.items():
            # before the code is spent: what the issuer requires, this wallet can attest
            attestation_for(
                context.wallet_provider,
                config_id,
                Custody(body.custody),
                offered.key_attestations_required,
            )
        keys = _holder_keys(context, claimed, flow, body)
        token = await _token(context, flow, tx_code)
    except BaseException:
        await end_claim(context, claimed, FlowState.OFFERED)
        raise
    return await _prepare_requests(context, claimed, flow, token=token, keys=keys, body=body)


def _holder_keys(
    context: WalletContext, claimed: ClaimedFlow, flow: OfferFlow, body: OfferAcceptance
) -> list[HolderKey]:
    now = context.clock.now()
    needed = flow.holder_keys_needed
    if body.custody == Custody.SERVER.value:
        keys = new_server_keys(claimed.box, needed, now)
    else:
        sent = [] if isinstance(body.holder_keys, UnsetType) else body.holder_keys
        keys = device_keys(claimed.box, sent, now)
    if len(keys) != needed:
        raise InvalidRequest(f"this offer needs {needed} holder keys")
    return keys


async def _token(context: WalletContext, flow: OfferFlow, tx_code: str | None) -> object:
    """§6.1: the token endpoint's answer to the pre-authorized code (and tx_code)."""
    request = TokenRequest(
        grant_type=PRE_AUTHORIZED_GRANT, pre_authorized_code=flow.pre_authorized_code
    )
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


async def _prepare_requests(
    context: WalletContext,
    claimed: ClaimedFlow,
    flow: OfferFlow,
    *,
    token: object,
    keys: list[HolderKey],
    body: OfferAcceptance,
) -> OfferOutcome:
    client = IssuerClient(context.outbound)
    try:
        flow.access_token = read_answer(token, TokenResponse, "token endpoint").access_token
        per = flow.instances
        flow.requests = []
        for index, config_id in enumerate(flow.configurations):
            nonce = None
            if flow.nonce_endpoint is not None:
                _, answer = await client.post(flow.nonce_endpoint, "nonce endpoint")
                nonce = read_answer(answer, NonceResponse, "nonce endpoint").c_nonce
            now = int(context.clock.now())
            config_keys = keys[index * per : (index + 1) * per]
            attester = attestation_for(
                context.wallet_provider,
                config_id,
                Custody(body.custody),
                flow.configurations[config_id].key_attestations_required,
            )
            flow.requests.append(
                PreparedCredentialRequest(
                    configuration_id=config_id,
                    key_ids=[k.holder_key_id for k in config_keys],
                    signing_inputs=[
                        _proof_signing_input(k, flow.issuer, nonce, now, attester)
                        for k in config_keys
                    ],
                )
            )
        flow.keys = [KeptHolderKey.of(k) for k in keys]
        signing = [
            (key, signing_input)
            for request in flow.requests
            for key, signing_input in zip(
                keys_of(keys, request.key_ids), request.signing_inputs, strict=True
            )
        ]
        if body.custody == Custody.DEVICE.value:
            await end_claim(context, claimed, FlowState.PROOFS_NEEDED, flow.content())
            return OfferOutcome(
                offer_id=claimed.flow_id,
                status=FlowState.PROOFS_NEEDED.value,
                signing_requests=[
                    signing_request(key, signing_input.encode("ascii"))
                    for key, signing_input in signing
                ],
            )
        signatures = [
            server_signer(claimed.box, key).sign(signing_input.encode("ascii"))
            for key, signing_input in signing
        ]
    except BaseException:
        await end_claim(context, claimed, FlowState.FAILED)
        raise
    return await request_credentials(context, claimed, flow, keys=keys, signatures=signatures)
