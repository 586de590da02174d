"""The citizen approves a presentation request: the chosen credentials (one instance of
each, rotating through a batch) are cut down to the claims agreed (RFC 9901 §7.2 via
``core.sdjwt.present``) and bound to the request with a KB-JWT (§4.3: ``aud`` = the full
client_id, ``nonce``, ``iat``, ``sd_hash``). Server-held keys sign at once and the
presentation is sent (``answer_verifier``); device-bound keys get their signing inputs
back, and ``complete_presentation`` receives the signatures."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from core.claim_paths import ClaimPath, ClaimPathError
from core.dcql.match import match_query
from core.dcql.parse import parse_dcql_query
from core.encoding import b64url_encode
from core.errors import InvalidRequest
from core.sdjwt.key_binding import KeyBindingRequest, prepare_key_binding
from core.sdjwt.present import present
from wallet.domain import (
    MSO_MDOC,
    CredentialInstance,
    Custody,
    FlowState,
    HolderKey,
    StoredCredential,
)
from wallet.services.answer_verifier import send_presentation
from wallet.services.claim_flow import end_claim
from wallet.services.consent import candidate, claim_choice, path_name, required_queries
from wallet.services.context import WalletContext
from wallet.services.display import label_for, pick
from wallet.services.holder_keys import (
    HOLDER_ALGORITHM,
    mdoc_signing_request,
    signing_request,
)
from wallet.services.interaction_messages import (
    PresentationConsent,
    PresentationOutcome,
    SigningRequest,
)
from wallet.services.mdoc_presentation import device_response, prepare_mdoc, signing_input_text
from wallet.services.mediation_guard import refuse_issuance_login
from wallet.services.presentation_flow import (
    PreparedCredential,
    PresentationFlow,
    claim_presentation,
    holdings,
)
from wallet.services.request_object import CheckedRequest
from wallet.services.sealing import AccountBox


async def approve(
    context: WalletContext,
    account_id: str,
    presentation_id: str,
    body: PresentationConsent,
    preferred: Sequence[str],
) -> PresentationOutcome:
    claimed, content = await claim_presentation(
        context, account_id, presentation_id, FlowState.CONSENT_NEEDED, listing=True
    )
    request = content.request
    try:
        await refuse_issuance_login(context, request)
        prepared = await _prepare(
            context,
            claimed.box,
            request,
            chosen=body.credentials,
            omitted=body.omit,
            preferred=preferred,
            listed=claimed.listed,
        )
    except BaseException:
        await end_claim(context, claimed, FlowState.CONSENT_NEEDED)
        raise
    waiting = [p.signing_request for p in prepared if p.signing_request is not None]
    if waiting:
        await end_claim(
            context,
            claimed,
            FlowState.SIGNATURES_NEEDED,
            PresentationFlow(request, prepared).sealable(),
        )
        return PresentationOutcome(
            presentation_id=presentation_id,
            status=FlowState.SIGNATURES_NEEDED.value,
            signing_requests=waiting,
        )
    return await send_presentation(context, claimed, request, prepared)


async def _prepare(
    context: WalletContext,
    box: AccountBox,
    request: CheckedRequest,
    *,
    chosen: dict[str, str],
    omitted: list[str],
    preferred: Sequence[str],
    listed: Sequence[StoredCredential] | None,
) -> list[PreparedCredential]:
    """Per answered credential query: the SD-JWT cut down and its KB-JWT, signed (server
    keys) or to be signed (device keys)."""
    query = parse_dcql_query(request.dcql_query)
    held = await holdings(context, box, listed)
    usable = [h for h in held if h.status not in ("revoked", "expired")]
    match = match_query(query, [candidate(h) for h in usable])
    if not match.satisfied:
        raise InvalidRequest("your credentials cannot answer this request")
    needed = required_queries(query)
    by_id = {h.stored.credential_id: h for h in usable}
    queries = {q.id: q for q in query.credentials}
    prepared = []
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
        index, linkable = holding.record.instance_to_show(holding.stored.presentations)
        instance = holding.record.instances[index]
        key = await _holder_key(context, box.account_id, instance)
        if holding.record.format == MSO_MDOC:
            signed = _mdoc_part(
                context,
                box,
                key,
                credential=instance.credential,
                paths=paths,
                request=request,
                query_id=query_id,
            )
        else:
            signed = _sd_jwt_part(
                context,
                box,
                key,
                credential=instance.credential,
                paths=paths,
                request=request,
                query_id=query_id,
            )
        prepared.append(
            PreparedCredential(
                query_id=query_id,
                credential_id=credential_id,
                custody=key.custody,
                holder_key_id=key.holder_key_id,
                sd_jwt=signed.sd_jwt,
                signing_input=signed.signing_input,
                credential=str(
                    (pick(holding.record.credential_display, preferred) or {}).get(
                        "name", holding.record.configuration_id
                    )
                ),
                issuer=holding.record.issuer,
                claims=[label_for(holding.record.claim_display, p, preferred) for p in paths],
                paths=[path_name(p) for p in paths],
                presentation=signed.presentation,
                signing_request=signed.waiting,
                instance=instance_fingerprint(holding.record.format, instance.credential),
                linkable=linkable,
                format=holding.record.format,
                issuer_signed=signed.issuer_signed,
            )
        )
    if not prepared:
        raise InvalidRequest("nothing would be presented")
    return prepared


async def _holder_key(
    context: WalletContext, account_id: str, instance: CredentialInstance
) -> HolderKey:
    """The key an instance is shown with: for the phone's own key, its public JWK as the
    sealed record keeps it; a key the service holds is read, to sign with."""
    if instance.device_key is not None:
        return HolderKey(
            instance.holder_key_id, account_id, Custody.DEVICE, instance.device_key, None, 0.0
        )
    keys = await context.store.holder_keys.get(account_id, [instance.holder_key_id])
    if len(keys) != 1:
        raise InvalidRequest("the credential's holder key is missing")
    return keys[0]


@dataclass(frozen=True, slots=True)
class _Signed:
    """One credential's presentation: signed (``presentation``), or its signing input
    waiting for the phone (``waiting``)."""

    signing_input: str
    presentation: str | None
    waiting: SigningRequest | None
    sd_jwt: str = ""
    issuer_signed: str | None = None


def _sd_jwt_part(
    context: WalletContext,
    box: AccountBox,
    key: HolderKey,
    *,
    credential: str,
    paths: Sequence[ClaimPath],
    request: CheckedRequest,
    query_id: str,
) -> _Signed:
    """The SD-JWT cut down to ``paths`` and its KB-JWT (§4.3)."""
    try:
        shown = present(credential, paths).sd_jwt
    except ClaimPathError as exc:
        raise InvalidRequest(f"the credential lacks a requested claim: {exc}") from exc
    binding = prepare_key_binding(
        shown,
        KeyBindingRequest(request.client_id, request.nonce, int(context.clock.now())),
        alg=HOLDER_ALGORITHM,
    )
    signing_input = binding.signing_input.decode("ascii")
    if key.custody is Custody.SERVER:
        signature = context.server_keys.signer(box, key).sign(binding.signing_input)
        return _Signed(signing_input, binding.assemble(signature), None, sd_jwt=shown)
    waiting = signing_request(key, binding.signing_input, query_id)
    return _Signed(signing_input, None, waiting, sd_jwt=shown)


def _mdoc_part(
    context: WalletContext,
    box: AccountBox,
    key: HolderKey,
    *,
    credential: str,
    paths: Sequence[ClaimPath],
    request: CheckedRequest,
    query_id: str,
) -> _Signed:
    """The mdoc cut down to ``paths`` and its DeviceAuth (Appendix B.2)."""
    to_sign = prepare_mdoc(credential, paths, request)
    signing_input = signing_input_text(to_sign.to_be_signed)
    if key.custody is Custody.SERVER:
        signature = context.server_keys.signer(box, key).sign(to_sign.to_be_signed)
        presentation = device_response(to_sign.issuer_signed, signing_input, request, signature)
        return _Signed(signing_input, presentation, None, issuer_signed=to_sign.issuer_signed)
    waiting = mdoc_signing_request(key, to_sign.to_be_signed, query_id)
    return _Signed(signing_input, None, waiting, issuer_signed=to_sign.issuer_signed)


def instance_fingerprint(format_: str, credential: str) -> str:
    """A short name of one copy of a credential, the same wherever it was shown: the
    start of the SHA-256 of its issuer-signed part (an SD-JWT's issuer-signed JWT, an
    mdoc's ``IssuerSigned`` as issued), base64url."""
    issuer_signed = credential if format_ == MSO_MDOC else credential.split("~", 1)[0]
    return b64url_encode(hashlib.sha256(issuer_signed.encode("ascii")).digest())[:11]
