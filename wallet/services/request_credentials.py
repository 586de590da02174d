"""The last step of receiving: the credential requests are sent with their signed key
proofs (OpenID4VCI 1.0 §8.2, ``proofs.jwt``), every credential that comes back is
verified before anything is stored (``verify_received``), and the issuer is told
``credential_accepted`` (§11), or ``credential_failure`` when the wallet refused what
came. Reached from ``accept_offer`` (keys held here) and ``complete_offer`` (the phone
signed)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from msgspec import UNSET, UnsetType

from core.encoding import b64url_encode
from core.oid4vci import (
    CredentialRequest,
    CredentialResponse,
    IssuedCredential,
    NotificationEvent,
    RegisterRead,
)
from wallet.domain import (
    MSO_MDOC,
    CounterpartyFailed,
    CredentialInstance,
    CredentialRecord,
    Custody,
    FlowState,
    HolderKey,
    NotFound,
    Refused,
    StoredCredential,
)
from wallet.services.activity import record, stamp
from wallet.services.activity_messages import CredentialReceivedEntry
from wallet.services.assistance import ASSISTING
from wallet.services.claim_flow import ClaimedFlow, end_claim
from wallet.services.context import WalletContext
from wallet.services.credential_records import seal_listing, seal_record
from wallet.services.device_rounds import await_round, phone_signs
from wallet.services.display import pick
from wallet.services.holder_keys import keys_of
from wallet.services.interaction_messages import (
    OfferOutcome,
    PendingCredential,
    ReceivedCredential,
)
from wallet.services.issuer_client import read_answer
from wallet.services.mediation_guard import mediation_still_live
from wallet.services.notify_issuer import notify_issuer
from wallet.services.offer_flow import (
    DeferredCredential,
    OfferedConfiguration,
    OfferFlow,
    PreparedCredentialRequest,
)
from wallet.services.one_time_use import merge_fresh_batch, renew_from, renewable, renewal_of
from wallet.services.refused_issuance import fail_issuance
from wallet.services.register_reads import (
    record_deferred_register_reads,
    record_register_reads,
    unseen,
)
from wallet.services.response_encryption import seal_request
from wallet.services.sealing import AccountBox
from wallet.services.sender_constrained import PhoneMustSign, post_with_token
from wallet.services.status_watch_index import watch_stored_credential
from wallet.services.verify_received import verify_issued
from wallet.services.verify_received_mdoc import verify_issued_mdoc_from

#: The registered JWT claims of an SD-JWT VC: the rest is what it says about the citizen.
REGISTERED_CLAIMS = frozenset(
    {"iss", "sub", "iat", "nbf", "exp", "cnf", "vct", "vct#integrity", "status", "_sd_alg"}
)

#: Pauses before repeating a credential request whose answer did not arrive.
CREDENTIAL_RETRY_PAUSES = (1.0,)

Received = tuple[StoredCredential, list[HolderKey], CredentialRecord]


async def request_credentials(
    context: WalletContext,
    claimed: ClaimedFlow,
    flow: OfferFlow,
    *,
    keys: list[HolderKey],
    signatures: list[bytes],
    resumed: bool = False,
) -> OfferOutcome:
    """``signatures``: one per signing input of ``flow.requests``, in order. ``resumed``:
    the instance keys' proofs were signed by the phone for this step (``device_rounds``)."""
    if flow.access_token is None:
        raise RuntimeError("credential requests prepared without an access token")
    received: list[Received] = []
    register_reads: list[list[RegisterRead]] = []  # what the issuer read, per received
    seen_reads: set[Hashable] = set()  # each read once, though several formats name it
    notifications: list[str] = []
    offset = 0
    try:
        for index, request in enumerate(flow.requests):
            proofs = []
            for signing_input in request.signing_inputs:
                proofs.append(signing_input + "." + b64url_encode(signatures[offset]))
                offset += 1
            message = credential_request(flow, request.configuration_id, proofs)
            try:
                response = await credential_response(context, claimed.box, flow, message)
            except PhoneMustSign:
                if index > 0:  # what came before cannot be asked for again
                    raise CounterpartyFailed(
                        "the issuer asked for a new DPoP nonce in the middle of an issuance"
                    ) from None
                return await await_round(
                    context,
                    claimed,
                    flow,
                    "credentials",
                    again=resumed,
                    holder_signatures=signatures,
                )
            answer = read_answer(response, CredentialResponse, "credential endpoint")
            if isinstance(answer.credentials, UnsetType):
                if flow.renews is not None:
                    raise Refused("the issuer deferred a fresh batch; the copies left are shown")
                flow.deferred.append(deferred(context, flow, request, answer))
                if not isinstance(answer.register_reads, UnsetType):
                    await record_deferred_register_reads(
                        context,
                        claimed.box,
                        flow,
                        request.configuration_id,
                        unseen(answer.register_reads, seen_reads),
                    )
                continue
            notification_id = (
                None if isinstance(answer.notification_id, UnsetType) else answer.notification_id
            )
            if notification_id is not None:
                notifications.append(notification_id)
            received.append(
                await verified(
                    context,
                    claimed.box,
                    flow,
                    request,
                    keys=keys,
                    credentials=answer.credentials,
                    notification_id=notification_id,
                )
            )
            register_reads.append(
                []
                if isinstance(answer.register_reads, UnsetType)
                else unseen(answer.register_reads, seen_reads)
            )
        # the mediation may have ended while the issuer answered: nothing is stored then
        await mediation_still_live(context)
    except BaseException as failed:
        if isinstance(failed, Refused):  # the wallet refused what came: the issuer is told
            for notification_id in notifications:
                await notify(context, claimed.box, flow, notification_id, "credential_failure")
        await fail_issuance(context, claimed, flow, failed)
        raise
    return await keep_received(
        context, claimed, flow, received, notifications, register_reads=register_reads
    )


async def keep_received(
    context: WalletContext,
    claimed: ClaimedFlow,
    flow: OfferFlow,
    received: list[Received],
    notifications: list[str],
    *,
    register_reads: list[list[RegisterRead]] | None = None,
) -> OfferOutcome:
    """Store what was received and verified; the flow ends ``received``, or stays
    ``pending`` while credentials are still to come; the issuer is told of each one kept.
    A fresh batch of a one-time credential joins that credential."""
    if flow.renews is not None:
        try:
            result = [
                await _keep_fresh_batch(context, claimed, flow, flow.renews, item)
                for item in received
            ]
        except NotFound:
            await end_claim(context, claimed, FlowState.FAILED)
            raise
    else:
        result = [await _keep(context, claimed, item) for item in received]
    # a fresh batch's reads too: the issuer read the register again for it
    for kept, item, reads in zip(result, received, register_reads or [], strict=False):
        await record_register_reads(context, claimed.box, kept.credential_id, item[2], reads)
    flow.round = None
    if flow.deferred:
        if flow.assisted_by is None:  # the credentials still to come keep the mark
            flow.assisted_by = ASSISTING.get()
        now = context.clock.now()
        await end_claim(
            context,
            claimed,
            FlowState.PENDING,
            flow.content(),
            # the poller cannot sign with keys on the phone: the phone asks
            due_at=None if phone_signs(flow) else min(item.due_at for item in flow.deferred),
            expires_at=max(claimed.flow.expires_at, now + context.policy.pending_lifetime),
        )
    else:
        await end_claim(context, claimed, FlowState.RECEIVED)
    for notification_id in notifications:
        await notify(context, claimed.box, flow, notification_id, "credential_accepted")
    return OfferOutcome(
        offer_id=claimed.flow_id,
        status=(FlowState.PENDING if flow.deferred else FlowState.RECEIVED).value,
        credentials=result,
        pending=[_pending(flow, item) for item in flow.deferred] if flow.deferred else UNSET,
    )


def deferred(
    context: WalletContext,
    flow: OfferFlow,
    request: PreparedCredentialRequest,
    answer: CredentialResponse,
) -> DeferredCredential:
    """§8.3: a credential the issuer will issue later, asked for again after ``interval``
    (within the wallet's bounds)."""
    if flow.deferred_endpoint is None:
        raise Refused("the issuer deferred a credential and names no deferred credential endpoint")
    assert not isinstance(answer.transaction_id, UnsetType)  # CredentialResponse.check
    interval = deferral_interval(context, answer)
    return DeferredCredential(
        configuration_id=request.configuration_id,
        transaction_id=answer.transaction_id,
        key_ids=request.key_ids,
        interval=interval,
        due_at=context.clock.now() + interval,
    )


def deferral_interval(context: WalletContext, answer: CredentialResponse) -> int:
    named = 0 if isinstance(answer.interval, UnsetType) else answer.interval
    return min(max(named, context.policy.min_deferred_interval), 86400)


def _pending(flow: OfferFlow, item: DeferredCredential) -> PendingCredential:
    display = pick(flow.configurations[item.configuration_id].display, []) or {}
    return PendingCredential(
        credential_configuration_id=item.configuration_id,
        name=display.get("name", item.configuration_id),
        next_check_at=int(item.due_at),
    )


async def _keep(context: WalletContext, claimed: ClaimedFlow, item: Received) -> ReceivedCredential:
    credential, holder_keys, record_ = item
    await context.store.holder_keys.add(holder_keys)
    await context.store.credentials.add(credential)
    await watch_stored_credential(context, credential.account_id, credential.credential_id, record_)
    display = pick(record_.credential_display, []) or {}
    await record(
        context,
        claimed.box,
        CredentialReceivedEntry(
            **stamp(context),
            credential_id=credential.credential_id,
            issuer=record_.issuer,
            issuer_name=(pick(record_.issuer_display, []) or {}).get("name", record_.issuer),
            credential=display.get("name", record_.configuration_id),
            instances=len(record_.instances),
        ),
    )
    return ReceivedCredential(
        credential_id=credential.credential_id,
        credential_configuration_id=record_.configuration_id,
        name=display.get("name", record_.configuration_id),
        instances=len(record_.instances),
    )


async def _keep_fresh_batch(
    context: WalletContext,
    claimed: ClaimedFlow,
    flow: OfferFlow,
    credential_id: str,
    item: Received,
) -> ReceivedCredential:
    _, holder_keys, fresh = item
    await context.store.holder_keys.add(holder_keys)
    merged = await merge_fresh_batch(context, claimed.box, credential_id, flow, fresh)
    if merged is None:
        raise NotFound("the credential was deleted while its fresh copies were asked for")
    display = pick(merged.credential_display, []) or {}
    return ReceivedCredential(
        credential_id=credential_id,
        credential_configuration_id=merged.configuration_id,
        name=display.get("name", merged.configuration_id),
        instances=len(merged.instances),
    )


def credential_request(
    flow: OfferFlow, configuration_id: str, proofs: list[str]
) -> CredentialRequest:
    """§8.2: by the ``credential_identifier`` the token response gave for the
    configuration (§6.2), else by the configuration's id."""
    identifiers = {} if flow.authorization is None else flow.authorization.credential_identifiers
    identifier = identifiers.get(configuration_id)
    if identifier is not None:
        return CredentialRequest(credential_identifier=identifier, proofs={"jwt": proofs})
    return CredentialRequest(credential_configuration_id=configuration_id, proofs={"jwt": proofs})


async def credential_response(
    context: WalletContext, box: AccountBox, flow: OfferFlow, message: CredentialRequest
) -> object:
    """The credential endpoint's answer. A request whose answer was lost (the connection
    dropped, the issuer restarted) is repeated as it was: the issuer may have issued
    already, and an issuer that keeps its response answers the same request with the same
    credentials (OpenID4VCI 1.0 leaves retries to the wallet; ours does so)."""
    sealed = seal_request(message, flow.encryption)
    for pause in (*CREDENTIAL_RETRY_PAUSES, None):
        try:
            answer = await post_with_token(
                context,
                box,
                flow,
                flow.credential_endpoint,
                "credential endpoint",
                content=sealed.content,
                content_type=sealed.content_type,
            )
            return sealed.open(answer.jwt, answer.body)
        except CounterpartyFailed:
            if pause is None:
                raise
            await asyncio.sleep(pause)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _subject_claims(claims: dict[str, Any]) -> dict[str, Any]:
    """What the credential says about the citizen (the registered JWT claims left out)."""
    return {k: v for k, v in claims.items() if k not in REGISTERED_CLAIMS}


async def verified(
    context: WalletContext,
    box: AccountBox,
    flow: OfferFlow,
    request: PreparedCredentialRequest | DeferredCredential,
    *,
    keys: list[HolderKey],
    credentials: list[IssuedCredential],
    notification_id: str | None,
) -> Received:
    if not 0 < len(credentials) <= len(request.key_ids):
        raise Refused("the issuer returned no credentials or more than there were proofs")
    config = flow.configurations[request.configuration_id]
    candidates = keys_of(keys, request.key_ids)
    if config.format == MSO_MDOC:
        content = _mdoc_content(context, flow, config, credentials, candidates)
    else:
        content = await _sd_jwt_content(context, flow, config, credentials, candidates)
    record_ = CredentialRecord(
        format=config.format,
        vct=content.vct,
        doctype=content.doctype,
        issuer=flow.issuer,
        configuration_id=request.configuration_id,
        instances=content.instances,
        claims=content.claims,
        expires_at=content.expires_at,
        issuer_display=flow.issuer_display,
        credential_display=config.display,
        claim_display=config.claims,
        # kept for telling the issuer of a deletion later: only a bearer token can be
        # sent again without the flow's DPoP key
        notification=(
            {
                "endpoint": flow.notification_endpoint,
                "id": notification_id,
                "access_token": flow.access_token or "",
            }
            if notification_id is not None
            and flow.notification_endpoint
            and flow.token_type.lower() == "bearer"
            else None
        ),
        received_at=context.clock.now(),
    )
    one_time = renewable(flow)
    if one_time:
        record_.use_policy = "one_time"
        record_.renewal = renewal_of(flow, request.configuration_id)
    credential_id = str(uuid.uuid4())
    stored = StoredCredential(
        credential_id,
        box.account_id,
        seal_record(box, credential_id, record_),
        0,
        context.clock.now(),
        renew_from=renew_from(context, record_),
        sealed_listing=seal_listing(box, credential_id, record_.listing()),
    )
    return stored, content.used, record_


@dataclass(slots=True)
class _Content:
    """What the credentials of one response say, verified, whatever their format."""

    instances: list[CredentialInstance]
    used: list[HolderKey]
    claims: dict[str, Any]
    expires_at: int | None
    vct: str
    doctype: str | None = None


async def _sd_jwt_content(
    context: WalletContext,
    flow: OfferFlow,
    config: OfferedConfiguration,
    credentials: list[IssuedCredential],
    candidates: list[HolderKey],
) -> _Content:
    taken: set[str] = set()
    instances = []
    used = []
    for item in credentials:
        value = item.credential
        if not isinstance(value, str):
            raise Refused("an SD-JWT VC is a string, not an object")
        verified, key = await verify_issued(
            value,
            trust=context.issuer_trust,
            issuer=flow.issuer,
            vct=config.vct,
            keys=candidates,
            taken=taken,
        )
        status = verified.status
        instances.append(
            CredentialInstance(
                value,
                key.holder_key_id,
                None if status is None else {"uri": status.uri, "idx": status.index},
                device_key(key),
            )
        )
        used.append(key)
    expires_at = verified.claims.get("exp")
    return _Content(
        instances=instances,
        used=used,
        claims=_subject_claims(verified.claims),
        expires_at=expires_at if isinstance(expires_at, int) else None,
        vct=verified.vct,
    )


def device_key(key: HolderKey) -> dict[str, str] | None:
    """The public JWK an instance keeps of its holder key when the phone holds it."""
    return dict(key.public_jwk) if key.custody is Custody.DEVICE else None


def _mdoc_content(
    context: WalletContext,
    flow: OfferFlow,
    config: OfferedConfiguration,
    credentials: list[IssuedCredential],
    candidates: list[HolderKey],
) -> _Content:
    """Appendix A.2.4: each credential a base64url ``IssuerSigned`` of the configuration's
    ``doctype``, bound to one of the keys proved. The claims and expiry shown are the
    last one's (a batch is the same document with other salts and keys)."""
    taken: set[str] = set()
    received = [
        verify_issued_mdoc_from(
            item.credential,
            anchors=context.anchors,
            issuer=flow.issuer,
            doctype=config.doctype,
            keys=candidates,
            taken=taken,
            clock=context.clock,
        )
        for item in credentials
    ]
    last = received[-1]
    return _Content(
        instances=[
            CredentialInstance(
                str(item.credential),
                mdoc.holder_key.holder_key_id,
                mdoc.status,
                device_key(mdoc.holder_key),
            )
            for item, mdoc in zip(credentials, received, strict=True)
        ],
        used=[mdoc.holder_key for mdoc in received],
        claims=dict(last.claims),
        expires_at=min(mdoc.expires_at for mdoc in received),
        vct="",
        doctype=last.verified.doc_type,
    )


async def notify(
    context: WalletContext,
    box: AccountBox,
    flow: OfferFlow,
    notification_id: str,
    event: NotificationEvent,
) -> None:
    if flow.notification_endpoint and flow.access_token:
        # with keys on the phone, the proof it signed for this (``device_rounds``); a
        # notification without one left is not sent (``notify_issuer`` gives up quietly)
        await notify_issuer(
            context,
            flow.notification_endpoint,
            notification_id,
            event,
            send=lambda url, body: post_with_token(
                context, box, flow, url, "notification endpoint", json_body=body
            ),
        )
