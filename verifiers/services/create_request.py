"""A counter creates a presentation request (OpenID4VP 1.0 §5, §5.10 ``request_uri``).

The request asks only for what the relying party is registered for: a named template it
holds a purpose for, or raw DCQL (§6) whose every credential type and claim lies within
its registered purposes. Over-asking is refused when the request is created, before any
wallet sees it. Credential types are SD-JWT VC ``vct`` values or mdoc ``docType`` values
(Appendix B.2.2), each with its format; an mdoc element may carry ``intent_to_retain``
(B.2.3) only where the registration says the counter keeps it.

The QR code carries only ``client_id``, ``request_uri`` and, when the counter wants it,
``request_uri_method=post`` (§5.10); everything else is in the signed request object.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec

from core.claim_paths import ClaimPath
from core.dcql.model import CredentialQuery
from core.dcql.parse import DcqlError, parse_dcql_query
from core.errors import Problem
from core.keys.signer import Signer
from core.keys.x509 import parse_x5c, x509_hash
from verifiers.domain import (
    CREDENTIAL_FORMATS,
    MDOC_FORMAT,
    RESPONSE_MODES,
    SD_JWT_VC_FORMAT,
    RelyingParty,
    TemplateCredential,
    Transaction,
    TransactionState,
)
from verifiers.services.audit_facts import (
    audit_presentation,
    presentation_facts,
    requested_entry,
)
from verifiers.services.context import VerifierContext

WALLET_SCHEME = "openid4vp://"
#: The status of a request refused for going beyond the party's registration.
REFUSED = 422


@dataclass(frozen=True, slots=True)
class PresentationRequestOptions:
    template: str | None = None
    dcql_query: Any = None
    response_mode: str = "direct_post"
    same_device: bool = False
    request_uri_method: str = "get"
    #: Where the wallet sends the browser back after a same-device answer: a page of this
    #: deployment (a counter's own screen, an agency's authorization page).
    same_device_redirect_uri: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedRequest:
    transaction: Transaction
    uri: str
    request_uri: str
    session_token: str | None


def client_id_for(party: RelyingParty, signer: Signer, public_base_url: str) -> str:
    """§5.9.3: ``x509_hash`` is the base64url SHA-256 of the leaf certificate's DER;
    ``x509_san_dns`` names the DNS SAN of that certificate (this deployment's host)."""
    if not signer.x5c:
        raise RuntimeError(f"verifier {party.verifier_id} has no access certificate")
    if party.client_id_prefix == "x509_san_dns":
        return f"x509_san_dns:{urlsplit(public_base_url).hostname}"
    return f"x509_hash:{x509_hash(parse_x5c([signer.x5c[0]])[0])}"


def _refused(detail: str) -> Problem:
    return Problem(REFUSED, "Request not allowed", detail)


def _claims_query(credential: TemplateCredential, path: ClaimPath) -> dict[str, Any]:
    claim: dict[str, Any] = {"path": list(path)}
    if path in credential.intent_to_retain:
        claim["intent_to_retain"] = True
    return claim


def template_query(context: VerifierContext, party: RelyingParty, name: str) -> dict[str, Any]:
    purpose = party.purposes.get(name)
    if purpose is None:
        raise _refused(f"{party.verifier_id} is not registered for the check {name!r}")
    template = context.templates[name]
    credentials = [
        {
            "id": credential.id,
            "format": credential.format,
            "meta": credential.meta(),
            "claims": [_claims_query(credential, p) for p in purpose.claims_for(credential)],
        }
        for credential in template.credentials
    ]
    query: dict[str, Any] = {"credentials": credentials}
    if template.credential_sets:
        query["credential_sets"] = [
            {"options": [list(option) for option in options]}
            for options in template.credential_sets
        ]
    return query


@dataclass(slots=True)
class _Registered:
    """What a party may ask of one credential type (in one format)."""

    claims: set[ClaimPath]
    retained: set[ClaimPath]


def _allowed(context: VerifierContext, party: RelyingParty) -> dict[tuple[str, str], _Registered]:
    """The claims the party may ask for, per credential format and type."""
    allowed: dict[tuple[str, str], _Registered] = {}
    for name, purpose in party.purposes.items():
        for credential in context.templates[name].credentials:
            for kind in credential.types:
                registered = allowed.setdefault(
                    (credential.format, kind), _Registered(set(), set())
                )
                registered.claims.update(purpose.claims_for(credential))
                registered.retained.update(credential.intent_to_retain)
    return allowed


def _types_of(credential: CredentialQuery) -> list[str]:
    if credential.format == MDOC_FORMAT:
        return [credential.meta["doctype_value"]]  # a string: parse_dcql_query checked it
    vcts = credential.meta.get("vct_values")
    if not isinstance(vcts, list) or not vcts:
        raise _refused(f"credential query {credential.id!r} must name its vct_values")
    return vcts


def check_registration(context: VerifierContext, party: RelyingParty, raw: Any) -> dict[str, Any]:
    """Raw DCQL, validated (§6) and held to the party's registration."""
    try:
        query = parse_dcql_query(raw)
    except DcqlError as exc:
        raise Problem(400, "Invalid DCQL query", str(exc)) from exc
    allowed = _allowed(context, party)
    for credential in query.credentials:
        if credential.format not in CREDENTIAL_FORMATS:
            raise _refused(
                f"only {SD_JWT_VC_FORMAT} and {MDOC_FORMAT} credentials can be requested"
            )
        kinds = _types_of(credential)
        unknown = [k for k in kinds if (credential.format, k) not in allowed]
        if unknown:
            raise _refused(
                f"{party.verifier_id} is not registered for credentials of type {unknown[0]}"
            )
        if isinstance(credential.claims, msgspec.UnsetType):
            continue  # only what is always disclosed
        registered = [allowed[(credential.format, k)] for k in kinds]
        for claim in credential.claims:
            path = tuple(claim.path)
            if not all(path in r.claims for r in registered):
                raise _refused(
                    f"{party.verifier_id} is not registered to ask for the claim {list(path)}"
                )
            if claim.intent_to_retain is True and not all(path in r.retained for r in registered):
                raise _refused(
                    f"{party.verifier_id} is not registered to keep the claim {list(path)}"
                )
    result: dict[str, Any] = query.to_json()
    return result


def _asked(context: VerifierContext, options: PresentationRequestOptions) -> dict[str, Any]:
    """What a refused request asked for, as DCQL: the template's whole query, or the raw
    query once it parsed (a refusal comes after the parse)."""
    if options.template is not None:
        template = context.templates[options.template]
        return {
            "credentials": [
                {"claims": [{"path": list(path)} for path in credential.claims]}
                for credential in template.credentials
            ]
        }
    try:
        asked: dict[str, Any] = parse_dcql_query(options.dcql_query).to_json()
    except DcqlError:
        return {}
    return asked


async def create_presentation_request(
    context: VerifierContext, verifier_id: str, options: PresentationRequestOptions
) -> CreatedRequest:
    party = context.party(verifier_id)
    if (options.template is None) == (options.dcql_query is None):
        raise Problem(400, "Invalid request", "give either template or dcql_query")
    if options.response_mode not in RESPONSE_MODES:
        raise Problem(400, "Invalid request", "response_mode is direct_post or direct_post.jwt")
    if options.request_uri_method not in ("get", "post"):
        raise Problem(400, "Invalid request", "request_uri_method is get or post")
    redirect_uri = options.same_device_redirect_uri
    if redirect_uri is not None and (
        not options.same_device
        or not redirect_uri.startswith(f"{context.public_base_url}/")
        or "#" in redirect_uri
    ):
        raise Problem(
            400,
            "Invalid request",
            "same_device_redirect_uri goes with same_device and names a page of this"
            " deployment, without a fragment",
        )
    if options.template is not None and options.template not in context.templates:
        raise Problem(404, "Unknown template", f"no check named {options.template!r}")
    try:
        dcql = (
            template_query(context, party, options.template)
            if options.template is not None
            else check_registration(context, party, options.dcql_query)
        )
    except Problem as refusal:
        if refusal.status == REFUSED:  # beyond the registration: the trail says so
            await audit_presentation(
                context,
                verifier_id,
                "presentation.refused",
                presentation_facts(
                    context, verifier_id, _asked(context, options), options.template
                ),
                "refused",
            )
        raise
    signer = await context.keys.signer(verifier_id)
    now = context.clock.now()
    session_token = secrets.token_urlsafe(32) if options.same_device else None
    transaction = Transaction(
        transaction_id=uuid.uuid4().hex,
        verifier_id=verifier_id,
        request_id=secrets.token_urlsafe(24),
        purpose=options.template,
        dcql_query=dcql,
        nonce=secrets.token_urlsafe(32),
        state=secrets.token_urlsafe(32),
        response_mode=options.response_mode,
        same_device=options.same_device,
        client_id=client_id_for(party, signer, context.public_base_url),
        status=TransactionState.WAITING,
        created_at=now,
        expires_at=now + context.policy.request_lifetime,
        extra={
            "request_uri_method": options.request_uri_method,
            **({"redirect_uri": redirect_uri} if redirect_uri else {}),
            **(
                {"session_token_hash": hashlib.sha256(session_token.encode()).hexdigest()}
                if session_token
                else {}
            ),
        },
    )
    store = context.transactions
    if not await context.open_requests.admit(
        verifier_id,
        transaction.created_at,
        lambda limit: store.count_open(verifier_id, transaction.created_at, limit),
    ):
        raise Problem(
            429,
            "Too Many Requests",
            f"this counter has {context.open_requests.cap} open requests; they are"
            " answered or expire within minutes",
        )
    # the request and its trail entry are stored together
    await store.add(transaction, requested_entry(context, verifier_id, dcql, options.template))
    return CreatedRequest(
        transaction,
        wallet_uri(context, transaction),
        request_uri(context, transaction),
        session_token,
    )


def request_uri(context: VerifierContext, transaction: Transaction) -> str:
    return f"{context.base(transaction.verifier_id)}/requests/{transaction.request_id}"


def wallet_uri(context: VerifierContext, transaction: Transaction) -> str:
    """What the QR code says: ``client_id``, ``request_uri`` and, for POST, the method."""
    parameters = {
        "client_id": transaction.client_id,
        "request_uri": request_uri(context, transaction),
    }
    if transaction.extra.get("request_uri_method") == "post":
        parameters["request_uri_method"] = "post"
    return f"{WALLET_SCHEME}?{urlencode(parameters)}"
