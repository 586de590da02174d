"""Receiving a credential from any OpenID4VCI 1.0 issuer (pre-authorized code flow).

1. ``scan``: the offer (by value or reference), the issuer's metadata and its
   authorization server's token endpoint are fetched and checked; the citizen sees the
   issuer's display data, the offered credentials, whether a transaction code is needed
   and how many holder keys a device-bound phone should make.
2. ``accept``: the token request (§6.1, with the ``tx_code``), a ``c_nonce`` per
   credential request (§7), and key proofs (§8.2.1.1 ``openid4vci-proof+jwt``), one fresh
   holder key per instance of a batch (§8.2 ``proofs``; up to the issuer's ``batch_size``).
   Server-held keys sign at once; device-bound keys get their signing inputs back.
3. ``complete`` (device-bound): the phone's signatures are checked and the credential
   request is sent.

Every credential is verified before anything is stored (``verify_received``); then
``credential_accepted`` is notified (§11) where the issuer has a notification endpoint,
``credential_failure`` when the wallet refused what came.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from msgspec import UnsetType

from core.encoding import b64url_decode, b64url_encode, json_dumps_bytes
from core.errors import InvalidRequest
from core.http.client import OutboundRefused
from core.oauth import PRE_AUTHORIZED_GRANT, TokenResponse
from core.oid4vci import CredentialResponse, IssuedCredential, NonceResponse
from wallet.domain import (
    ActivityKind,
    CounterpartyError,
    CounterpartyFailed,
    CredentialInstance,
    CredentialRecord,
    Custody,
    Flow,
    FlowKind,
    FlowState,
    HolderKey,
    NotFound,
    OfferUnavailable,
    Refused,
    StoredCredential,
)
from wallet.services.activity import record
from wallet.services.context import WalletContext
from wallet.services.display import claim_labels, pick, safe_display
from wallet.services.holder_keys import (
    HOLDER_ALGORITHM,
    device_keys,
    device_signatures,
    new_server_keys,
    server_signer,
    signing_request,
)
from wallet.services.holding_messages import CredentialIssuer
from wallet.services.interaction_messages import (
    DeviceSignatures,
    OfferAcceptance,
    OfferedCredential,
    OfferOutcome,
    OfferView,
    ReceivedCredential,
    SigningRequest,
    TxCodePrompt,
)
from wallet.services.issuer_client import (
    IssuerClient,
    parse_offer,
    parse_offer_parameter,
    read_answer,
    tx_code_view,
    well_known,
)
from wallet.services.sealing import AccountBox
from wallet.services.verify_received import verify_issued

PROOF_TYP = "openid4vci-proof+jwt"
SD_JWT_VC_FORMATS = frozenset({"dc+sd-jwt"})
REGISTERED_CLAIMS = frozenset(
    {"iss", "sub", "iat", "nbf", "exp", "cnf", "vct", "vct#integrity", "status", "_sd_alg"}
)


def _configurations(metadata: dict[str, Any], ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    supported = metadata.get("credential_configurations_supported")
    if not isinstance(supported, dict):
        raise Refused("the issuer metadata lists no credential configurations")
    chosen = {}
    for config_id in ids:
        config = supported.get(config_id)
        if not isinstance(config, dict):
            raise Refused(f"the issuer does not describe {config_id!r}")
        if config.get("format") not in SD_JWT_VC_FORMATS:
            raise Refused(f"{config_id!r} is not an SD-JWT VC (dc+sd-jwt)")
        methods = config.get("cryptographic_binding_methods_supported")
        if isinstance(methods, list) and "jwk" not in methods:
            raise Refused(f"{config_id!r} cannot be bound to a holder key by jwk")
        proof_types = config.get("proof_types_supported")
        if isinstance(proof_types, dict):
            jwt_proofs = proof_types.get("jwt")
            algs = (
                jwt_proofs.get("proof_signing_alg_values_supported")
                if isinstance(jwt_proofs, dict)
                else None
            )
            if not isinstance(algs, list) or HOLDER_ALGORITHM not in algs:
                raise Refused(f"{config_id!r} does not take ES256 jwt proofs")
        credential_metadata = config.get("credential_metadata")
        if not isinstance(credential_metadata, dict):
            credential_metadata = {}
        chosen[config_id] = {
            "vct": config.get("vct") if isinstance(config.get("vct"), str) else None,
            "display": safe_display(credential_metadata.get("display", config.get("display"))),
            "claims": claim_labels(credential_metadata.get("claims", config.get("claims"))),
        }
    return chosen


def _batch_size(context: WalletContext, metadata: dict[str, Any]) -> int:
    batch = metadata.get("batch_credential_issuance")
    size = batch.get("batch_size") if isinstance(batch, dict) else None
    if not isinstance(size, int) or isinstance(size, bool) or size < 2:
        return 1
    return min(size, context.policy.batch_size)


def _endpoint(metadata: dict[str, Any], name: str, client: IssuerClient) -> str | None:
    value = metadata.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Refused(f"{name} is not a URL")
    try:
        client.outbound.check_url(value)
    except OutboundRefused as exc:
        raise Refused(f"{name} is not a URL the wallet connects to") from exc
    return value


async def scan_offer(
    context: WalletContext, account_id: str, parameters: dict[str, str], language: str | None
) -> OfferView:
    client = IssuerClient(context.outbound)
    if "credential_offer" in parameters:
        offer = parse_offer(parse_offer_parameter(parameters["credential_offer"]))
    else:
        offer = parse_offer(
            await client.get_json(
                parameters["credential_offer_uri"],
                "credential offer",
                redirects=3,
                gone=OfferUnavailable(
                    "this offer was used already or has expired; the agency can make a new one"
                ),
            )
        )
    issuer = offer["credential_issuer"]
    metadata = await client.get_json(
        well_known(issuer, "openid-credential-issuer"), "issuer metadata", language=language
    )
    if metadata.get("credential_issuer") != issuer:
        raise Refused("the issuer metadata names another issuer")
    configurations = _configurations(metadata, offer["credential_configuration_ids"])
    credential_endpoint = _endpoint(metadata, "credential_endpoint", client)
    if credential_endpoint is None:
        raise Refused("the issuer metadata has no credential_endpoint")
    servers = metadata.get("authorization_servers")
    authorization_server = offer["authorization_server"] or (
        servers[0]
        if isinstance(servers, list) and servers and isinstance(servers[0], str)
        else issuer
    )
    token_endpoint = await _token_endpoint(client, authorization_server)
    per_configuration = _batch_size(context, metadata)
    state = {
        "offer": offer,
        "issuer": issuer,
        "credential_endpoint": credential_endpoint,
        "nonce_endpoint": _endpoint(metadata, "nonce_endpoint", client),
        "notification_endpoint": _endpoint(metadata, "notification_endpoint", client),
        "token_endpoint": token_endpoint,
        "issuer_display": safe_display(metadata.get("display")),
        "configurations": configurations,
        "instances": per_configuration,
    }
    box = await context.box(account_id)
    flow_id = str(uuid.uuid4())
    expires_at = context.clock.now() + context.policy.flow_lifetime
    await context.keep_flow(
        Flow(
            flow_id,
            account_id,
            FlowKind.OFFER,
            FlowState.OFFERED,
            box.seal("flow", flow_id, state),
            expires_at,
        )
    )
    return _offer_view(flow_id, state, expires_at, [language] if language else [])


async def _token_endpoint(client: IssuerClient, authorization_server: object) -> str:
    if not isinstance(authorization_server, str):
        raise Refused("authorization_server must be a URL")
    for segment in ("oauth-authorization-server", "openid-configuration"):
        try:
            metadata = await client.get_json(
                well_known(authorization_server, segment), "authorization server metadata"
            )
        except CounterpartyFailed:
            continue
        if metadata.get("issuer") not in (None, authorization_server):
            raise Refused("the authorization server metadata names another issuer")
        endpoint = _endpoint(metadata, "token_endpoint", client)
        if endpoint is not None:
            return endpoint
    raise CounterpartyFailed("the issuer's token endpoint could not be discovered")


def _offer_view(
    flow_id: str, state: dict[str, Any], expires_at: float, preferred: Sequence[str]
) -> OfferView:
    issuer_display = pick(state["issuer_display"], preferred) or {}
    credentials = []
    for config_id, config in state["configurations"].items():
        display = pick(config["display"], preferred) or {}
        credentials.append(
            OfferedCredential(
                credential_configuration_id=config_id,
                name=display.get("name", config_id),
                display=display,
                vct=config["vct"],
                format="dc+sd-jwt",
            )
        )
    tx_code = tx_code_view(state["offer"]["tx_code"])
    return OfferView(
        offer_id=flow_id,
        issuer=CredentialIssuer(
            credential_issuer=state["issuer"],
            name=issuer_display.get("name", state["issuer"]),
            display=issuer_display,
        ),
        credentials=credentials,
        tx_code=None if tx_code is None else msgspec.convert(tx_code, TxCodePrompt),
        holder_keys_needed=state["instances"] * len(state["configurations"]),
        expires_at=int(expires_at),
    )


def _proof_signing_input(key: HolderKey, audience: str, nonce: str | None, now: int) -> bytes:
    header = {"alg": HOLDER_ALGORITHM, "typ": PROOF_TYP, "jwk": key.public_jwk}
    payload: dict[str, Any] = {"aud": audience, "iat": now}
    if nonce is not None:
        payload["nonce"] = nonce
    return (
        b64url_encode(json_dumps_bytes(header)) + "." + b64url_encode(json_dumps_bytes(payload))
    ).encode("ascii")


async def _claim(
    context: WalletContext, account_id: str, offer_id: str, expected: FlowState
) -> tuple[Flow, AccountBox, dict[str, Any]]:
    flow = await context.store.flows.get(account_id, offer_id, context.clock.now())
    if flow is None or flow.kind is not FlowKind.OFFER:
        raise NotFound("no such offer")
    if flow.state is not expected:
        raise InvalidRequest(f"the offer is {flow.state.value}, not {expected.value}")
    if not await context.store.flows.move(
        account_id, offer_id, expected=expected, state=FlowState.BUSY
    ):
        raise InvalidRequest("the offer is being handled by another request")
    box = await context.box(account_id)
    return flow, box, box.open("flow", offer_id, flow.sealed)


async def accept_offer(
    context: WalletContext, account_id: str, offer_id: str, body: OfferAcceptance
) -> OfferOutcome:
    custody = body.custody
    tx_code = None if isinstance(body.tx_code, UnsetType) else body.tx_code
    flow, box, state = await _claim(context, account_id, offer_id, FlowState.OFFERED)
    try:
        if state["offer"]["tx_code"] is not None and tx_code is None:
            raise InvalidRequest("this offer needs the transaction code sent to the citizen")
        total = state["instances"] * len(state["configurations"])
        now = context.clock.now()
        keys = (
            new_server_keys(box, total, now)
            if custody == Custody.SERVER.value
            else device_keys(
                box, [] if isinstance(body.holder_keys, UnsetType) else body.holder_keys, now
            )
        )
        if len(keys) != total:
            raise InvalidRequest(f"this offer needs {total} holder keys")
        client = IssuerClient(context.outbound)
        form = {
            "grant_type": PRE_AUTHORIZED_GRANT,
            "pre-authorized_code": state["offer"]["pre_authorized_code"],
        }
        if tx_code is not None:
            form["tx_code"] = tx_code
        try:
            _, token = await client.post(state["token_endpoint"], "token endpoint", form=form)
        except CounterpartyError as exc:
            if exc.remote_error == "invalid_grant" and tx_code is None:
                raise OfferUnavailable(
                    "this offer was used already or has expired; the agency can make a new one"
                ) from exc
            raise
    except BaseException:
        await context.store.flows.move(
            account_id, offer_id, expected=FlowState.BUSY, state=FlowState.OFFERED
        )
        raise
    return await _after_token(context, box, flow, state, token=token, keys=keys, custody=custody)


async def _after_token(
    context: WalletContext,
    box: AccountBox,
    flow: Flow,
    state: dict[str, Any],
    *,
    token: object,
    keys: list[HolderKey],
    custody: str,
) -> OfferOutcome:
    client = IssuerClient(context.outbound)
    try:
        access_token = read_answer(token, TokenResponse, "token endpoint").access_token
        per = state["instances"]
        requests = []
        for index, config_id in enumerate(state["configurations"]):
            nonce = None
            if state["nonce_endpoint"] is not None:
                _, answer = await client.post(state["nonce_endpoint"], "nonce endpoint")
                nonce = read_answer(answer, NonceResponse, "nonce endpoint").c_nonce
            now = int(context.clock.now())
            config_keys = keys[index * per : (index + 1) * per]
            inputs = [
                _proof_signing_input(k, state["issuer"], nonce, now).decode("ascii")
                for k in config_keys
            ]
            requests.append(
                {
                    "configuration_id": config_id,
                    "key_ids": [k.holder_key_id for k in config_keys],
                    "signing_inputs": inputs,
                }
            )
        state["access_token"] = access_token
        state["requests"] = requests
        state["keys"] = [_key_json(k) for k in keys]
        if custody == Custody.DEVICE.value:
            moved = await context.store.flows.move(
                box.account_id,
                flow.flow_id,
                expected=FlowState.BUSY,
                state=FlowState.PROOFS_NEEDED,
                sealed=box.seal("flow", flow.flow_id, state),
            )
            if not moved:  # the flow is ours while BUSY: nobody else moves it
                raise RuntimeError("the offer's flow moved while it was being handled")
            return OfferOutcome(
                offer_id=flow.flow_id,
                status=FlowState.PROOFS_NEEDED.value,
                signing_requests=[
                    msgspec.convert(signing_request(k, i.encode("ascii")), SigningRequest)
                    for r in requests
                    for k, i in zip(_keys_of(keys, r["key_ids"]), r["signing_inputs"], strict=True)
                ],
            )
        signatures = [
            server_signer(box, k).sign(i.encode("ascii"))
            for r in requests
            for k, i in zip(_keys_of(keys, r["key_ids"]), r["signing_inputs"], strict=True)
        ]
    except BaseException:
        await _fail(context, box, flow)
        raise
    return await _request_credentials(context, box, flow, state, keys=keys, signatures=signatures)


def _key_json(key: HolderKey) -> dict[str, Any]:
    return {
        "holder_key_id": key.holder_key_id,
        "custody": key.custody.value,
        "public_jwk": key.public_jwk,
        "sealed_private_key": None
        if key.sealed_private_key is None
        else b64url_encode(key.sealed_private_key),
    }


def _subject_claims(claims: dict[str, Any]) -> dict[str, Any]:
    """What the credential says about the citizen (the registered JWT claims left out)."""
    return {k: v for k, v in claims.items() if k not in REGISTERED_CLAIMS}


def _key_from_json(account_id: str, value: dict[str, Any], now: float) -> HolderKey:
    sealed = value["sealed_private_key"]
    return HolderKey(
        value["holder_key_id"],
        account_id,
        Custody(value["custody"]),
        value["public_jwk"],
        None if sealed is None else b64url_decode(sealed),
        now,
    )


def _keys_of(keys: Sequence[HolderKey], ids: Sequence[str]) -> list[HolderKey]:
    by_id = {k.holder_key_id: k for k in keys}
    return [by_id[i] for i in ids]


async def complete_offer(
    context: WalletContext, account_id: str, offer_id: str, body: DeviceSignatures
) -> OfferOutcome:
    flow, box, state = await _claim(context, account_id, offer_id, FlowState.PROOFS_NEEDED)
    keys = [_key_from_json(account_id, k, context.clock.now()) for k in state["keys"]]
    try:
        ordered = [k for r in state["requests"] for k in _keys_of(keys, r["key_ids"])]
        inputs = [i for r in state["requests"] for i in r["signing_inputs"]]
        signatures = device_signatures(ordered, inputs, body.signatures)
    except BaseException:
        await context.store.flows.move(
            account_id, offer_id, expected=FlowState.BUSY, state=FlowState.PROOFS_NEEDED
        )
        raise
    return await _request_credentials(context, box, flow, state, keys=keys, signatures=signatures)


async def _fail(context: WalletContext, box: AccountBox, flow: Flow) -> None:
    await context.store.flows.move(
        box.account_id, flow.flow_id, expected=FlowState.BUSY, state=FlowState.FAILED
    )


async def _request_credentials(
    context: WalletContext,
    box: AccountBox,
    flow: Flow,
    state: dict[str, Any],
    *,
    keys: list[HolderKey],
    signatures: list[bytes],
) -> OfferOutcome:
    client = IssuerClient(context.outbound)
    stored: list[tuple[StoredCredential, list[HolderKey], CredentialRecord]] = []
    notifications: list[str] = []
    offset = 0
    try:
        for request in state["requests"]:
            proofs = []
            for signing_input in request["signing_inputs"]:
                proofs.append(signing_input + "." + b64url_encode(signatures[offset]))
                offset += 1
            answer = await _credential_response(
                client,
                state["credential_endpoint"],
                {
                    "credential_configuration_id": request["configuration_id"],
                    "proofs": {"jwt": proofs},
                },
                state["access_token"],
            )
            answer = read_answer(answer, CredentialResponse, "credential endpoint")
            if isinstance(answer.credentials, UnsetType):
                raise Refused("deferred issuance is not supported by this wallet")
            notification_id = (
                None if isinstance(answer.notification_id, UnsetType) else answer.notification_id
            )
            if notification_id is not None:
                notifications.append(notification_id)
            stored.append(
                await _verified_record(
                    context,
                    box,
                    state,
                    request,
                    keys=keys,
                    credentials=answer.credentials,
                    notification_id=notification_id,
                )
            )
    except Refused:
        for notification_id in notifications:
            await _notify(context, state, notification_id, "credential_failure")
        await _fail(context, box, flow)
        raise
    except BaseException:
        await _fail(context, box, flow)
        raise
    result = []
    for credential, holder_keys, record_ in stored:
        await context.store.holder_keys.add(holder_keys)
        await context.store.credentials.add(credential)
        display = pick(record_.credential_display, []) or {}
        await record(
            context,
            box,
            ActivityKind.CREDENTIAL_RECEIVED,
            {
                "credential_id": credential.credential_id,
                "issuer": record_.issuer,
                "issuer_name": (pick(record_.issuer_display, []) or {}).get("name", record_.issuer),
                "credential": display.get("name", record_.configuration_id),
                "instances": len(record_.instances),
            },
        )
        result.append(
            ReceivedCredential(
                credential_id=credential.credential_id,
                credential_configuration_id=record_.configuration_id,
                name=display.get("name", record_.configuration_id),
                instances=len(record_.instances),
            )
        )
    await context.store.flows.move(
        box.account_id, flow.flow_id, expected=FlowState.BUSY, state=FlowState.RECEIVED
    )
    for _, _, record_ in stored:
        if record_.notification is not None:
            await _notify(context, state, record_.notification["id"], "credential_accepted")
    return OfferOutcome(offer_id=flow.flow_id, status=FlowState.RECEIVED.value, credentials=result)


#: Pauses before repeating a credential request whose answer did not arrive.
CREDENTIAL_RETRY_PAUSES = (1.0,)


async def _credential_response(
    client: IssuerClient, endpoint: str, body: dict[str, Any], access_token: str
) -> object:
    """The credential endpoint's answer. A request whose answer was lost (the connection
    dropped, the issuer restarted) is repeated as it was: the issuer may have issued
    already, and an issuer that keeps its response answers the same request with the same
    credentials (OpenID4VCI 1.0 leaves retries to the wallet; ours does so)."""
    for pause in (*CREDENTIAL_RETRY_PAUSES, None):
        try:
            _, answer = await client.post(
                endpoint, "credential endpoint", json_body=body, access_token=access_token
            )
            return answer
        except CounterpartyFailed:
            if pause is None:
                raise
            await asyncio.sleep(pause)
    raise AssertionError("unreachable")


async def _verified_record(
    context: WalletContext,
    box: AccountBox,
    state: dict[str, Any],
    request: dict[str, Any],
    *,
    keys: list[HolderKey],
    credentials: list[IssuedCredential],
    notification_id: str | None,
) -> tuple[StoredCredential, list[HolderKey], CredentialRecord]:
    expected = len(request["key_ids"])
    if not 0 < len(credentials) <= expected:
        raise Refused("the issuer returned no credentials or more than there were proofs")
    config = state["configurations"][request["configuration_id"]]
    candidates = _keys_of(keys, request["key_ids"])
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
            issuer=state["issuer"],
            vct=config["vct"],
            keys=candidates,
            taken=taken,
        )
        status = verified.status
        instances.append(
            CredentialInstance(
                value,
                key.holder_key_id,
                None if status is None else {"uri": status.uri, "idx": status.index},
            )
        )
        used.append(key)
    record_ = CredentialRecord(
        format="dc+sd-jwt",
        vct=verified.vct,
        issuer=state["issuer"],
        configuration_id=request["configuration_id"],
        instances=instances,
        claims=_subject_claims(verified.claims),
        expires_at=verified.claims.get("exp")
        if isinstance(verified.claims.get("exp"), int)
        else None,
        issuer_display=state["issuer_display"],
        credential_display=config["display"],
        claim_display=config["claims"],
        notification=(
            {
                "endpoint": state["notification_endpoint"],
                "id": notification_id,
                "access_token": state["access_token"],
            }
            if isinstance(notification_id, str) and state["notification_endpoint"]
            else None
        ),
        received_at=context.clock.now(),
    )
    credential_id = str(uuid.uuid4())
    stored = StoredCredential(
        credential_id,
        box.account_id,
        box.seal("credential", credential_id, record_.to_json()),
        0,
        context.clock.now(),
    )
    return stored, used, record_


async def _notify(
    context: WalletContext, state: dict[str, Any], notification_id: str, event: str
) -> None:
    """§11: best effort; the citizen's credential does not depend on it."""
    endpoint = state.get("notification_endpoint")
    if not endpoint:
        return
    await notify(context, endpoint, state["access_token"], notification_id, event)


async def notify(
    context: WalletContext, endpoint: str, access_token: str, notification_id: str, event: str
) -> bool:
    try:
        await IssuerClient(context.outbound).post(
            endpoint,
            "notification endpoint",
            json_body={"notification_id": notification_id, "event": event},
            access_token=access_token,
        )
    except Exception:
        return False
    return True
