"""The wallet's answer at the verifier's ``response_uri`` (OpenID4VP 1.0 §8.2, §8.3, §8.5).

A presentation goes as ``vp_token`` keyed by credential query id with ``state``
(``direct_post``, §8.2), or all of it as a JWE ``response`` (``direct_post.jwt``, §8.3.1,
encrypted as ``presentation_encryption`` chose when the request was scanned); a refusal as
``error`` (§8.5), encrypted the same way. The verifier's verdict and, for same-device
flows, its ``redirect_uri`` are passed back to the phone when the wallet may follow it
(never to a mediator's screen: its ``response_code`` would release the answer there).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import msgspec
from msgspec import UNSET, UnsetType

from core.errors import ProtocolError
from core.http.client import OutboundFailed, OutboundRefused
from core.messages import decode_message
from core.oid4vp import ResponseUriAnswer
from wallet.domain import FLOW_MOVES, CounterpartyFailed, FlowState, Refused
from wallet.services.activity import sealed_entry, stamp
from wallet.services.activity_messages import PresentationSentEntry, SharedCredential
from wallet.services.claim_flow import ClaimedFlow, end_claim
from wallet.services.context import WalletContext
from wallet.services.help_requests import consent_by_presentation
from wallet.services.interaction_messages import PresentationOutcome
from wallet.services.mediation_guard import assisted, mediation_still_live
from wallet.services.presentation_encryption import encrypted_response
from wallet.services.presentation_flow import PreparedCredential, verifier_name
from wallet.services.request_object import CheckedRequest

MAX_RESPONSE_BYTES = 64 * 1024
#: Longest redirect the wallet follows; a longer one is refused, never cut.
MAX_REDIRECT = 2048
#: Why a mediator's screen is never sent on where the verifier asks (same device).
WITHHELD_IN_MEDIATION = (
    "the verifier asked to send the citizen on; through a mediation, the wallet does not "
    "send the mediator's browser on"
)


async def post_answer(
    context: WalletContext, request: CheckedRequest, form: dict[str, str]
) -> tuple[int, ResponseUriAnswer | None]:
    """Post ``form`` to the ``response_uri``: the verifier's status and its answer, when
    the wallet can read one."""
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


def response_form(request: CheckedRequest, parameters: dict[str, Any]) -> dict[str, str]:
    """What is posted to the ``response_uri``: the response ``parameters`` as form fields
    (``direct_post``, §8.2; ``vp_token`` as its JSON), or, for ``direct_post.jwt``, one
    ``response`` field holding them all as the members of a JWE's payload (§8.3.1)."""
    encryption = request.encryption
    if encryption is not None:
        return {"response": encrypted_response(encryption, parameters)}
    return {
        name: value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        for name, value in parameters.items()
    }


def _with_state(request: CheckedRequest, parameters: dict[str, Any]) -> dict[str, Any]:
    """§8.2, §8.5: ``state`` goes back with every response when the request had one."""
    return parameters if request.state is None else {**parameters, "state": request.state}


async def send_refusal(
    context: WalletContext, request: CheckedRequest, error: str, description: str
) -> bool:
    """Tell the verifier no (§8.5 ``error``, ``error_description``, ``state``), encrypted
    like any response to a ``direct_post.jwt`` request (§8.3); whether it was delivered.
    Where the wallet cannot encrypt it, it goes unencrypted, as §8.3.1 allows."""
    parameters = _with_state(request, {"error": error, "error_description": description})
    try:
        form = response_form(request, parameters)
    except Refused:
        form = {name: str(value) for name, value in parameters.items()}
    try:
        await post_answer(context, request, form)
    except (Refused, CounterpartyFailed):
        return False
    return True


async def send_presentation(
    context: WalletContext,
    claimed: ClaimedFlow,
    request: CheckedRequest,
    prepared: list[PreparedCredential],
) -> PresentationOutcome:
    """Post the signed presentations, end the flow ``submitted`` (``failed`` when they
    could not be delivered), count each credential's use and log what was shared."""
    try:
        vp_token: dict[str, list[str]] = {}
        for part in prepared:
            if part.presentation is None:
                raise ValueError(f"the presentation for {part.query_id!r} is not signed")
            vp_token.setdefault(part.query_id, []).append(part.presentation)
        form = response_form(request, _with_state(request, {"vp_token": vp_token}))
        await mediation_still_live(context)  # ended while this request was under way
        status, body = await post_answer(context, request, form)
    except BaseException:
        await end_claim(context, claimed, FlowState.FAILED)
        raise
    accepted = status == 200
    outcome: dict[str, Any] = {
        "presentation_id": claimed.flow_id,
        "status": FlowState.SUBMITTED.value,
        "outcome": "accepted" if accepted else "rejected",
        "verifier_status": status,
    }
    refused_redirect = None
    if body is not None:
        redirect = body.redirect_uri
        if accepted and not isinstance(redirect, UnsetType):
            if assisted():
                # its response_code would release the answer to the mediator's browser
                outcome["redirect_refused"] = WITHHELD_IN_MEDIATION
            elif followable_redirect(context, redirect):
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
    box = claimed.box
    FLOW_MOVES[claimed.flow.kind].check(FlowState.BUSY, FlowState.SUBMITTED)
    sent = sealed_entry(
        context,
        box,
        PresentationSentEntry(
            **stamp(context),
            verifier=verifier_name(request),
            client_id=request.client_id,
            verifier_authenticated=request.authenticated,
            shared=[
                SharedCredential(
                    credential_id=p.credential_id,
                    credential=p.credential,
                    issuer=p.issuer,
                    claims=p.claims,
                    instance=p.instance,
                    linkable=p.linkable,
                )
                for p in prepared
            ],
            outcome=outcome["outcome"],
            error=outcome.get("error", UNSET),
            # the scheme only: the address itself may carry a bearer response_code
            redirect_refused=UNSET if refused_redirect is None else refused_redirect,
        ),
    )
    # the flow ends, each credential's use is counted and what was shared is logged at once
    await context.store.flows.submit(
        box.account_id, claimed.flow_id, [p.credential_id for p in prepared], sent
    )
    if accepted:  # a mediator's help request for the national ID: the citizen's consent
        await consent_by_presentation(context, box, request.response_uri)
    return msgspec.convert(outcome, PresentationOutcome)


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
