"""Credential requests made ready once the wallet holds an access token (OpenID4VCI 1.0
§8): a fresh ``c_nonce`` per credential request where the issuer has a nonce endpoint
(§7), one fresh holder key per instance of a batch (§8.2 ``proofs``, up to the issuer's
``batch_size``) and the signing input of each key proof (§8.2.1.1
``openid4vci-proof+jwt``), with its key attestation where the issuer asks for one
(Appendix F.1). Keys held here sign at once and the credentials are requested; keys on the
phone get their signing inputs back (``proofs_needed``) and ``complete_offer`` goes on.
Reached from ``accept_offer`` (pre-authorized code) and ``finish_authorization``
(authorization code)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from msgspec import UnsetType

from core.errors import InvalidRequest
from core.oid4vci import NonceResponse
from wallet.domain import Custody, FlowState, HolderKey, KeyMaterial
from wallet.services.claim_flow import ClaimedFlow, end_claim
from wallet.services.context import WalletContext
from wallet.services.device_rounds import await_round, phone_signs
from wallet.services.holder_keys import (
    HOLDER_ALGORITHM,
    KeptHolderKey,
    device_keys,
    jws_signing_input,
    keys_of,
    signing_request,
)
from wallet.services.interaction_messages import OfferOutcome
from wallet.services.issuer_client import IssuerClient, read_answer
from wallet.services.offer_flow import OfferFlow, PreparedCredentialRequest
from wallet.services.request_credentials import request_credentials
from wallet.services.wallet_provider import WalletProvider, attestation_for

PROOF_TYP = "openid4vci-proof+jwt"


def proof_signing_input(
    key: HolderKey,
    audience: str,
    nonce: str | None,
    now: int,
    provider: WalletProvider | None,
    *,
    material: KeyMaterial | None,
) -> str:
    """§8.2.1.1: the JOSE header and claims of a key proof, ready to be signed; with the
    key's attestation in its ``key_attestation`` header where ``provider`` is given
    (Appendix F.1), its levels those of the key as it is kept (``material``)."""
    header: dict[str, Any] = {"alg": HOLDER_ALGORITHM, "typ": PROOF_TYP, "jwk": key.public_jwk}
    if provider is not None:
        header["key_attestation"] = provider.key_attestation(key, material, nonce=nonce, now=now)
    payload: dict[str, Any] = {"aud": audience, "iat": now}
    if nonce is not None:
        payload["nonce"] = nonce
    return jws_signing_input(header, payload)


def holder_keys_for(
    context: WalletContext,
    claimed: ClaimedFlow,
    flow: OfferFlow,
    custody: str,
    sent: Sequence[dict[str, Any]] | UnsetType,
) -> list[HolderKey]:
    """Fresh keys made here (``server``), or the phone's public keys (``device``): sent
    now, or kept from the start of an authorization code flow; as many as the flow
    needs."""
    now = context.clock.now()
    needed = flow.holder_keys_needed
    if custody == Custody.SERVER.value:
        keys = context.server_keys.new_keys(claimed.box, needed, now)
    elif not isinstance(sent, UnsetType):
        keys = device_keys(claimed.box, sent, now)
    else:
        keys = flow.holder_keys(claimed.box.account_id, now)
    if len(keys) != needed:
        raise InvalidRequest(f"this offer needs {needed} holder keys")
    return keys


async def prepare_requests(
    context: WalletContext,
    claimed: ClaimedFlow,
    flow: OfferFlow,
    *,
    keys: list[HolderKey],
    custody: Custody,
) -> OfferOutcome:
    """With ``flow.access_token`` set: the requests made ready, and sent when the keys are
    held here."""
    client = IssuerClient(context.outbound)
    try:
        per = flow.instances
        flow.requests = []
        for index, config_id in enumerate(flow.configurations):
            nonce = None
            if flow.nonce_endpoint is not None:
                answer = await client.exchange(flow.nonce_endpoint, "nonce endpoint")
                nonce = read_answer(answer.body, NonceResponse, "nonce endpoint").c_nonce
                if flow.authorization is not None and answer.dpop_nonce is not None:
                    flow.authorization.remember_nonce(flow.credential_endpoint, answer.dpop_nonce)
            now = int(context.clock.now())
            config_keys = keys[index * per : (index + 1) * per]
            attester = attestation_for(
                context.wallet_provider,
                config_id,
                custody,
                flow.configurations[config_id].key_attestations_required,
                context.server_keys.new_in,
            )
            # attested as each key is kept (only server-held keys have levels)
            materials = [
                None if attester is None else context.server_keys.material_of(claimed.box, k)
                for k in config_keys
            ]
            flow.requests.append(
                PreparedCredentialRequest(
                    configuration_id=config_id,
                    key_ids=[k.holder_key_id for k in config_keys],
                    signing_inputs=[
                        proof_signing_input(k, flow.issuer, nonce, now, attester, material=m)
                        for k, m in zip(config_keys, materials, strict=True)
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
        if custody is Custody.DEVICE and phone_signs(flow):
            # the credential requests' DPoP proofs are the phone's too: one round for all
            return await await_round(context, claimed, flow, "credentials", again=False)
        if custody is Custody.DEVICE:
            flow.round = None
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
            context.server_keys.signer(claimed.box, key).sign(signing_input.encode("ascii"))
            for key, signing_input in signing
        ]
    except BaseException:
        await end_claim(context, claimed, FlowState.FAILED)
        raise
    return await request_credentials(context, claimed, flow, keys=keys, signatures=signatures)
