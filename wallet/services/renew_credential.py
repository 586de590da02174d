"""Fresh instances of a one-time credential (OpenID4VP 1.0 §14.1 / SD-JWT §10.1:
presentations of one instance can be linked, so each instance is shown once; OpenID4VCI
1.0 §6.1 with RFC 6749 §6: a refresh token gets the new batch without the citizen).

This is the housekeeping's way, for credentials whose keys this service holds (the phone
renews its own: ``renew_on_phone``). When fewer than ``renew_below`` unshown instances
remain (the clear ``renew_from`` count the housekeeping looks for), the wallet renews the
access token with the refresh token (with the wallet attestation and the DPoP key of the
issuance the credential came from) and keeps the rotated refresh token with the
credential at once, asks for a nonce, makes fresh server-held holder keys (one per
instance of the issuer's batch) with key attestations, and asks the credential endpoint
for the configuration again. What comes back is verified like any credential
(``request_credentials.verified``) and joins the instances not yet shown, the shown ones
dropped; the claims are the register's as they are now
(``one_time_use.merge_fresh_batch``: a compare-and-set on the presentation count, read
again when a presentation was made meanwhile, so none is lost). An issuer that refuses
(the refresh token revoked with the credential, the citizen no longer in the register)
leaves the credential as it is, shown linkably from then on, and the refusal is not tried
again before ``renewal_retry``.
"""

from __future__ import annotations

import logging

from msgspec import UnsetType

from core.encoding import b64url_encode
from core.errors import ProtocolError
from core.oid4vci import CredentialResponse, NonceResponse, RegisterRead
from wallet.domain import CredentialRecord, Custody, HolderKey, Refused
from wallet.services.context import WalletContext
from wallet.services.credential_records import open_record
from wallet.services.issuer_client import IssuerClient, read_answer
from wallet.services.offer_flow import OfferFlow, PreparedCredentialRequest
from wallet.services.one_time_use import keep_refresh_token, merge_fresh_batch
from wallet.services.prepare_credential_requests import proof_signing_input
from wallet.services.register_reads import record_register_reads, unseen
from wallet.services.request_credentials import (
    credential_request,
    credential_response,
    notify,
    verified,
)
from wallet.services.sealing import AccountBox
from wallet.services.sender_constrained import renew_access_token
from wallet.services.wallet_provider import attestation_for

log = logging.getLogger("idwallet.wallet")


async def renew_credential(context: WalletContext, account_id: str, credential_id: str) -> bool:
    """Whether the credential got a fresh batch."""
    stored = await context.store.credentials.get(account_id, credential_id)
    if stored is None:
        return False
    box = await context.box(account_id)
    record = open_record(box, stored)
    if record.renewal is None or record.renewed_by_phone:
        return False
    flow = OfferFlow.opened(record.renewal)
    used_keys, fresh, notification_id, reads = await _fresh_batch(
        context, box, flow, credential_id, record.configuration_id
    )
    await context.store.holder_keys.add(used_keys)
    merged = await merge_fresh_batch(context, box, credential_id, flow, fresh)
    if merged is not None:  # the issuer read the register again for the fresh batch
        await record_register_reads(context, box, credential_id, merged, reads)
    # the answer's notification_id, not the record's: a record keeps one only for a bearer
    # token (to tell of a deletion later), and a DPoP-bound token's fresh batch is
    # acknowledged too (§11)
    if merged is not None and notification_id is not None:
        await notify(context, box, flow, notification_id, "credential_accepted")
    return merged is not None


async def _fresh_batch(
    context: WalletContext,
    box: AccountBox,
    flow: OfferFlow,
    credential_id: str,
    configuration_id: str,
) -> tuple[list[HolderKey], CredentialRecord, str | None, list[RegisterRead]]:
    await renew_access_token(context, box, flow)
    await keep_refresh_token(context, box, credential_id, flow)
    now = context.clock.now()
    nonce = None
    if flow.nonce_endpoint is not None:
        asked = await IssuerClient(context.outbound).exchange(flow.nonce_endpoint, "nonce endpoint")
        nonce = read_answer(asked.body, NonceResponse, "nonce endpoint").c_nonce
        if flow.authorization is not None and asked.dpop_nonce is not None:
            flow.authorization.remember_nonce(flow.credential_endpoint, asked.dpop_nonce)
    server_keys = context.server_keys
    keys = server_keys.new_keys(box, flow.instances, now)
    attester = attestation_for(
        context.wallet_provider,
        configuration_id,
        Custody.SERVER,
        flow.configurations[configuration_id].key_attestations_required,
        server_keys.new_in,
    )
    signing_inputs = [
        proof_signing_input(
            key,
            flow.issuer,
            nonce,
            int(now),
            attester,
            material=None if attester is None else server_keys.material_of(box, key),
        )
        for key in keys
    ]
    proofs = [
        signing_input
        + "."
        + b64url_encode(server_keys.signer(box, key).sign(signing_input.encode()))
        for key, signing_input in zip(keys, signing_inputs, strict=True)
    ]
    answer_body = await credential_response(
        context, box, flow, credential_request(flow, configuration_id, proofs)
    )
    answer = read_answer(answer_body, CredentialResponse, "credential endpoint")
    if isinstance(answer.credentials, UnsetType):
        raise Refused("the issuer deferred a fresh batch; the credential is renewed later")
    request = PreparedCredentialRequest(
        configuration_id=configuration_id,
        key_ids=[key.holder_key_id for key in keys],
        signing_inputs=signing_inputs,
    )
    notification_id = (
        None if isinstance(answer.notification_id, UnsetType) else answer.notification_id
    )
    _, used, new_record = await verified(
        context,
        box,
        flow,
        request,
        keys=keys,
        credentials=answer.credentials,
        notification_id=notification_id,
    )
    reads = [] if isinstance(answer.register_reads, UnsetType) else answer.register_reads
    return used, new_record, notification_id, unseen(reads, set())


async def renew_due_credentials(context: WalletContext) -> int:
    """The housekeeping's pass: every one-time credential due for a fresh batch, renewed
    once. How many were renewed."""
    renewed = 0
    now = context.clock.now()
    due = await context.store.credentials.renewal_due(now, context.policy.renewals_per_pass)
    for account_id, credential_id in due:
        try:
            renewed += await renew_credential(context, account_id, credential_id)
        except ProtocolError as failed:
            log.info("renewing credential %s: %s", credential_id, failed.error)
            await context.store.credentials.postpone_renewal(
                account_id, credential_id, now + context.policy.renewal_retry
            )
    return renewed
