"""Presenting to any OpenID4VP 1.0 verifier, with the citizen's consent.

1. ``scan``: the request is fetched and checked (``request_object``) and kept for the
   next step; the citizen gets the consent view (``consent``).
2. ``approve``: the chosen credentials (one instance of each, rotating through a batch)
   are cut down to the claims agreed (RFC 9901 §7.2 via ``core.sdjwt.present``) and
   bound to the request with a KB-JWT (§4.3: ``aud`` = the full client_id, ``nonce``,
   ``iat``, ``sd_hash``). Server-held keys sign at once; device-bound keys get their signing
   inputs back and ``complete`` receives the signatures.
3. The response goes to the ``response_uri``: ``vp_token`` keyed by credential query id
   with ``state`` (``direct_post``, §8.2), or all of it as a JWE ``response``
   (``direct_post.jwt``, §8.3). The verifier's verdict and, for same-device flows, its
   ``redirect_uri`` are passed back to the phone.
4. ``decline`` tells the verifier ``access_denied`` (§8.5). Either way the activity log
   records it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import msgspec
from msgspec import UnsetType

from core.claim_paths import ClaimPathError
from core.dcql.match import match_query
from core.dcql.model import ClaimsQuery, CredentialQuery
from core.dcql.parse import parse_dcql_query
from core.encoding import b64url_encode
from core.errors import InvalidRequest, ProtocolError
from core.http.client import OutboundFailed, OutboundRefused
from core.jose.jwe import encrypt_compact
from core.messages import decode_message
from core.oid4vp import ResponseUriAnswer
from core.sdjwt.key_binding import KeyBindingRequest, prepare_key_binding
from core.sdjwt.present import present
from wallet.domain import (
    ActivityKind,
    CounterpartyFailed,
    Custody,
    Flow,
    FlowKind,
    FlowState,
    NotFound,
    Refused,
)
from wallet.services.activity import record
from wallet.services.consent import (
    Holding,
    candidate,
    claim_choice,
    consent_view,
    path_name,
    required_queries,
)
from wallet.services.context import WalletContext
from wallet.services.credentials import StatusReader, open_record
from wallet.services.display import label_for, pick
from wallet.services.holder_keys import (
    HOLDER_ALGORITHM,
    device_signatures,
    server_signer,
    signing_request,
)
from wallet.services.interaction_messages import (
    ConsentView,
    DeviceSignatures,
    PresentationConsent,
    PresentationOutcome,
    SigningRequest,
)
from wallet.services.request_object import CheckedRequest, checked_request, response_encryption
from wallet.services.sealing import AccountBox

MAX_RESPONSE_BYTES = 64 * 1024


async def _holdings(context: WalletContext, box: AccountBox) -> list[Holding]:
    reader = StatusReader(context)
    holdings = []
    for stored in await context.store.credentials.list(box.account_id):
        credential = open_record(box, stored)
        holdings.append(Holding(stored, credential, await reader.status(credential)))
    return holdings


async def scan_request(
    context: WalletContext, account_id: str, parameters: dict[str, str], preferred: Sequence[str]
) -> ConsentView:
    request = await checked_request(context, parameters)
    box = await context.box(account_id)
    flow_id = str(uuid.uuid4())
    expires = context.clock.now() + context.policy.flow_lifetime
    exp = request.payload.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        expires = min(expires, float(exp))
    await context.keep_flow(
        Flow(
            flow_id,
            account_id,
            FlowKind.PRESENTATION,
            FlowState.CONSENT_NEEDED,
            box.seal("flow", flow_id, {"request": request.to_json()}),
            expires,
        )
    )
    return consent_view(flow_id, expires, request, await _holdings(context, box), preferred)


async def _claim(
    context: WalletContext, account_id: str, presentation_id: str, expected: FlowState
) -> tuple[Flow, AccountBox, dict[str, Any]]:
    flow = await context.store.flows.get(account_id, presentation_id, context.clock.now())
    if flow is None or flow.kind is not FlowKind.PRESENTATION:
        raise NotFound("no such presentation request")
    if flow.state is not expected:
        raise InvalidRequest(f"the request is {flow.state.value}, not {expected.value}")
    if not await context.store.flows.move(
        account_id, presentation_id, expected=expected, state=FlowState.BUSY
    ):
        raise InvalidRequest("the request is being handled by another request")
    box = await context.box(account_id)
    return flow, box, box.open("flow", presentation_id, flow.sealed)


async def _release(context: WalletContext, flow: Flow, state: FlowState) -> None:
    await context.store.flows.move(
        flow.account_id, flow.flow_id, expected=FlowState.BUSY, state=state
    )


async def approve(
    context: WalletContext,
    account_id: str,
    presentation_id: str,
    body: PresentationConsent,
    preferred: Sequence[str],
) -> PresentationOutcome:
    omitted, chosen = body.omit, body.credentials
    flow, box, state = await _claim(context, account_id, presentation_id, FlowState.CONSENT_NEEDED)
    try:
        request = CheckedRequest.from_json(state["request"])
        parts = await _prepare(
            context, box, request, chosen=chosen, omitted=omitted, preferred=preferred
        )
    except BaseException:
        await _release(context, flow, FlowState.CONSENT_NEEDED)
        raise
    state["parts"] = parts
    if any(p["custody"] == Custody.DEVICE.value for p in parts):
        await context.store.flows.move(
            account_id,
            presentation_id,
            expected=FlowState.BUSY,
            state=FlowState.SIGNATURES_NEEDED,
            sealed=box.seal("flow", presentation_id, state),
        )
        return PresentationOutcome(
            presentation_id=presentation_id,
            status=FlowState.SIGNATURES_NEEDED.value,
            signing_requests=[
                msgspec.convert({**p["signing_request"], "query_id": p["query_id"]}, SigningRequest)
                for p in parts
                if p["custody"] == Custody.DEVICE.value
            ],
        )
    return await _submit(context, box, flow, request, parts)


async def _prepare(
    context: WalletContext,
    box: AccountBox,
    request: CheckedRequest,
    *,
    chosen: dict[str, str],
    omitted: list[str],
    preferred: Sequence[str],
) -> list[dict[str, Any]]:
    """Per answered credential query: the SD-JWT cut down and its KB-JWT, signed (server
    keys) or to be signed (device keys)."""
    query = parse_dcql_query(request.payload["dcql_query"])
    holdings = await _holdings(context, box)
    usable = [h for h in holdings if h.status not in ("revoked", "expired")]
    match = match_query(query, [candidate(h) for h in usable])
    if not match.satisfied:
        raise InvalidRequest("your credentials cannot answer this request")
    needed = required_queries(query)
    by_id = {h.stored.credential_id: h for h in usable}
    queries = {q.id: q for q in query.credentials}
    parts = []
    for query_id in match.selected_queries:
        if query_id in omitted:
            if query_id in needed:
                raise InvalidRequest(f"the credential for {query_id!r} is required")
            continue
        candidates = [m.credential_id for m in match.candidates[query_id]]
        credential_id = chosen.get(query_id, candidates[0])
        if credential_id not in candidates:
            raise InvalidRequest(f"that credential does not answer {query_id!r}")
        holding = by_id[credential_id]
        paths = claim_choice(queries[query_id], holding.record.claims, omitted)
        instances = holding.record.instances
        instance = instances[holding.stored.presentations % len(instances)]
        try:
            shown = present(instance.sd_jwt, paths).sd_jwt
        except ClaimPathError as exc:
            raise InvalidRequest(f"the credential lacks a requested claim: {exc}") from exc
        prepared = prepare_key_binding(
            shown,
            KeyBindingRequest(request.client_id, request.nonce, int(context.clock.now())),
            alg=HOLDER_ALGORITHM,
        )
        keys = await context.store.holder_keys.get(box.account_id, [instance.holder_key_id])
        if len(keys) != 1:
            raise InvalidRequest("the credential's holder key is missing")
        key = keys[0]
        part: dict[str, Any] = {
            "query_id": query_id,
            "credential_id": credential_id,
            "custody": key.custody.value,
            "holder_key_id": key.holder_key_id,
            "sd_jwt": shown,
            "signing_input": prepared.signing_input.decode("ascii"),
            "credential": (pick(holding.record.credential_display, preferred) or {}).get(
                "name", holding.record.configuration_id
            ),
            "issuer": holding.record.issuer,
            "claims": [label_for(holding.record.claim_display, p, preferred) for p in paths],
            "paths": [path_name(p) for p in paths],
        }
        if key.custody is Custody.SERVER:
            signature = server_signer(box, key).sign(prepared.signing_input)
            part["presentation"] = prepared.assemble(signature)
        else:
            part["signing_request"] = signing_request(key, prepared.signing_input)
        parts.append(part)
    if not parts:
        raise InvalidRequest("nothing would be presented")
    return parts


async def complete(
    context: WalletContext, account_id: str, presentation_id: str, body: DeviceSignatures
) -> PresentationOutcome:
    flow, box, state = await _claim(
        context, account_id, presentation_id, FlowState.SIGNATURES_NEEDED
    )
    request = CheckedRequest.from_json(state["request"])
    parts = state["parts"]
    pending = [p for p in parts if p["custody"] == Custody.DEVICE.value]
    try:
        keys = await context.store.holder_keys.get(
            account_id, [p["holder_key_id"] for p in pending]
        )
        by_id = {k.holder_key_id: k for k in keys}
        signatures = device_signatures(
            [by_id[p["holder_key_id"]] for p in pending],
            [p["signing_input"] for p in pending],
            body.signatures,
        )
    except BaseException:
        await _release(context, flow, FlowState.SIGNATURES_NEEDED)
        raise
    for part, signature in zip(pending, signatures, strict=True):
        part["presentation"] = (
            part["sd_jwt"] + part["signing_input"] + "." + b64url_encode(signature)
        )
    return await _submit(context, box, flow, request, parts)


async def _post(
    context: WalletContext, request: CheckedRequest, form: dict[str, str]
) -> tuple[int, ResponseUriAnswer | None]:
    try:
        answer = await context.outbound.send(
            "POST",
            request.response_uri,
            accept="application/json",
            form=form,
            max_bytes=MAX_RESPONSE_BYTES,
        )
    except OutboundRefused as exc:
        raise Refused("the response_uri is not one the wallet sends to") from exc
    except OutboundFailed as exc:
        raise CounterpartyFailed("the verifier could not be reached") from exc
    body = None
    if answer.body.strip():
        try:
            body = decode_message(answer.body, ResponseUriAnswer, max_bytes=MAX_RESPONSE_BYTES)
        except ProtocolError:
            body = None  # an answer the wallet cannot read says nothing more than its status
    return answer.status, body


def _response_form(request: CheckedRequest, vp_token: dict[str, list[str]]) -> dict[str, str]:
    if request.response_mode == "direct_post.jwt":
        key, enc = response_encryption(request.payload.get("client_metadata", {}))
        content: dict[str, Any] = {"vp_token": vp_token}
        if request.state is not None:
            content["state"] = request.state
        kid = key.get("kid") if isinstance(key.get("kid"), str) else None
        token = encrypt_compact(
            json.dumps(content).encode("utf-8"),
            {k: v for k, v in key.items() if k in ("kty", "crv", "x", "y")},
            enc=enc,
            kid=kid,
        )
        return {"response": token}
    form = {"vp_token": json.dumps(vp_token, separators=(",", ":"))}
    if request.state is not None:
        form["state"] = request.state
    return form


def _claims_of(query: CredentialQuery) -> list[ClaimsQuery]:
    return [] if isinstance(query.claims, msgspec.UnsetType) else list(query.claims)


def _verifier_name(request: CheckedRequest) -> str:
    return request.certificate_name or request.client_id


async def _submit(
    context: WalletContext,
    box: AccountBox,
    flow: Flow,
    request: CheckedRequest,
    parts: list[dict[str, Any]],
) -> PresentationOutcome:
    vp_token: dict[str, list[str]] = {}
    for part in parts:
        vp_token.setdefault(part["query_id"], []).append(part["presentation"])
    try:
        status, body = await _post(context, request, _response_form(request, vp_token))
    except BaseException:
        await _release(context, flow, FlowState.FAILED)
        raise
    accepted = status == 200
    outcome: dict[str, Any] = {
        "presentation_id": flow.flow_id,
        "status": FlowState.SUBMITTED.value,
        "outcome": "accepted" if accepted else "rejected",
        "verifier_status": status,
    }
    refused_redirect = None
    if body is not None:
        redirect = body.redirect_uri
        if accepted and not isinstance(redirect, UnsetType):
            if followable_redirect(context, redirect):
                outcome["redirect_uri"] = redirect
            else:
                refused_redirect = _scheme_of(redirect)
                outcome["redirect_refused"] = (
                    "the verifier asked to send you on to an address the wallet does not "
                    "open (only https and this deployment's apps are followed)"
                )
        if not accepted and not isinstance(body.error, UnsetType):
            outcome["error"] = body.error
            if not isinstance(body.error_description, UnsetType):
                outcome["error_description"] = body.error_description
    await _release(context, flow, FlowState.SUBMITTED)
    for part in parts:
        await context.store.credentials.count_presentation(box.account_id, part["credential_id"])
    await record(
        context,
        box,
        ActivityKind.PRESENTATION_SENT,
        {
            "verifier": _verifier_name(request),
            "client_id": request.client_id,
            "verifier_authenticated": request.authenticated,
            "shared": [
                {
                    "credential_id": p["credential_id"],
                    "credential": p["credential"],
                    "issuer": p["issuer"],
                    "claims": p["claims"],
                }
                for p in parts
            ],
            "outcome": outcome["outcome"],
            **({"error": outcome["error"]} if "error" in outcome else {}),
            # the scheme only: the address itself may carry a bearer response_code
            **({"redirect_refused": refused_redirect} if refused_redirect is not None else {}),
        },
    )
    return msgspec.convert(outcome, PresentationOutcome)


#: Longest redirect the wallet follows; a longer one is refused, never cut.
MAX_REDIRECT = 2048


def followable_redirect(context: WalletContext, uri: str) -> bool:
    """Where a verifier may send the citizen after a presentation (OpenID4VP 1.0 §8.2
    ``redirect_uri``): an https address, this deployment's own origin (http in
    development), or an app scheme the deployment lists. Never ``javascript:``,
    ``data:`` or anything else a browser would run or render in the wallet's place."""
    if len(uri) > MAX_REDIRECT or not uri.isprintable() or " " in uri:
        return False
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme == "https":
        return bool(parts.hostname) and not parts.username and not parts.password
    if uri.startswith(context.public_base_url + "/"):
        return True
    return scheme in context.redirect_schemes


def _scheme_of(uri: str) -> str:
    scheme = uri.partition(":")[0].lower()
    return (
        scheme[:32]
        if scheme.isascii() and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum()
        else "(unreadable)"
    )


async def decline(
    context: WalletContext, account_id: str, presentation_id: str
) -> PresentationOutcome:
    flow, box, state = await _claim(context, account_id, presentation_id, FlowState.CONSENT_NEEDED)
    request = CheckedRequest.from_json(state["request"])
    form = {"error": "access_denied", "error_description": "the holder declined"}
    if request.state is not None:
        form["state"] = request.state
    delivered = True
    try:
        await _post(context, request, form)
    except (Refused, CounterpartyFailed):
        delivered = False
    await _release(context, flow, FlowState.DECLINED)
    await record(
        context,
        box,
        ActivityKind.PRESENTATION_DECLINED,
        {
            "verifier": _verifier_name(request),
            "client_id": request.client_id,
            "verifier_authenticated": request.authenticated,
            "requested": [
                {"query_id": q.id, "claims": [path_name(c.path) for c in _claims_of(q)]}
                for q in parse_dcql_query(request.payload["dcql_query"]).credentials
            ],
            "verifier_told": delivered,
        },
    )
    return PresentationOutcome(presentation_id=presentation_id, status=FlowState.DECLINED.value)
