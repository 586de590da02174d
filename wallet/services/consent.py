"""The consent view of a presentation request (OpenID4VP 1.0 §6.4, §15.1 "User Consent"):
who asks (the identity its certificate proves; a self-declared ``client_name`` only ever
as unverified), for which claims of which credentials, which of the citizen's credentials
can answer, which claims are optional (a ``claim_sets`` alternative works without them,
§6.4.1) and which credential queries are optional (``credential_sets``, §6.2: of
alternatives, such as one credential in two formats, only the one the answer takes is
shown while the request can be answered), with warnings; and, when the registered
purpose serves an issuer's issuance, which issuer asks for what (``issuance_context``).
Choosing what to leave out is decided here too, for ``approve``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from core.claim_paths import ClaimPath, ClaimPathError, select
from core.dcql.match import CandidateCredential, DcqlMatch, match_credential, match_query
from core.dcql.model import ClaimsQuery, CredentialQuery, DcqlQuery
from core.dcql.parse import parse_dcql_query
from core.errors import InvalidRequest
from core.oid4vp import client_names
from wallet.domain import MSO_MDOC, CredentialRecord, StoredCredential
from wallet.services.context import WalletContext
from wallet.services.display import label_for, pick
from wallet.services.interaction_messages import (
    AnsweringCredential,
    ConsentView,
    IssuanceContext,
    RequestedClaim,
    RequestedCredential,
    VerifierView,
)
from wallet.services.issuance_context import WaitingIssuance, issuance_context
from wallet.services.registration import registered_purpose
from wallet.services.request_object import CheckedRequest


@dataclass(frozen=True, slots=True)
class Holding:
    stored: StoredCredential
    record: CredentialRecord
    status: str


def path_name(path: Sequence[object]) -> str:
    return ".".join("*" if p is None else str(p) for p in path)


def candidate(holding: Holding) -> CandidateCredential:
    return CandidateCredential(
        id=holding.stored.credential_id,
        format=holding.record.format,
        claims=holding.record.claims,
        vct=holding.record.vct or None,
        doctype=holding.record.doctype,
    )


def required_queries(query: DcqlQuery) -> set[str]:
    """Credential queries the request cannot do without (§6.2)."""
    if isinstance(query.credential_sets, msgspec.UnsetType):
        return {c.id for c in query.credentials}
    needed: set[str] = set()
    for credential_set in query.credential_sets:
        if credential_set.required:
            common = set(credential_set.options[0])
            for option in credential_set.options[1:]:
                common &= set(option)
            needed |= common
    return needed


def _chosen_for_required_sets(query: DcqlQuery, match: DcqlMatch) -> set[str]:
    """The credential queries of the option the answer takes in each required credential
    set (§6.2): needed for this answer, though another option could have stood in."""
    if isinstance(query.credential_sets, msgspec.UnsetType) or not match.satisfied:
        return set()
    chosen = set(match.selected_queries)
    needed: set[str] = set()
    for credential_set in query.credential_sets:
        if credential_set.required:
            for option in credential_set.options:
                if chosen.issuperset(option):
                    needed |= set(option)
                    break
    return needed


def _satisfied(claims: Any, claim: ClaimsQuery) -> bool:
    try:
        selected = select(claims, claim.path)
    except ClaimPathError:
        return False
    if isinstance(claim.values, msgspec.UnsetType):
        return True
    return any(type(s) is type(v) and s == v for s in selected for v in claim.values)


def claim_choice(
    query: CredentialQuery, claims: Any, omitted: Iterable[str]
) -> tuple[ClaimPath, ...]:
    """The claims to disclose for ``query`` from a credential with ``claims``, leaving out
    ``omitted`` (dotted paths) where an alternative claim set allows it."""
    left_out = set(omitted)
    if isinstance(query.claims, msgspec.UnsetType):
        return ()
    if isinstance(query.claim_sets, msgspec.UnsetType):
        for claim in query.claims:
            if path_name(claim.path) in left_out:
                raise InvalidRequest(f"{path_name(claim.path)} is required by the verifier")
        return tuple(tuple(c.path) for c in query.claims)
    by_id = {c.id: c for c in query.claims if isinstance(c.id, str)}
    for option in query.claim_sets:
        chosen = [by_id[i] for i in option]
        if all(_satisfied(claims, c) for c in chosen) and not any(
            path_name(c.path) in left_out for c in chosen
        ):
            return tuple(tuple(c.path) for c in chosen)
    raise InvalidRequest("the verifier requires some of the claims you left out")


def _optional_claims(query: CredentialQuery, claims: Any) -> set[str]:
    if isinstance(query.claims, msgspec.UnsetType) or isinstance(
        query.claim_sets, msgspec.UnsetType
    ):
        return set()
    by_id = {c.id: c for c in query.claims if isinstance(c.id, str)}
    usable = [
        {path_name(by_id[i].path) for i in option}
        for option in query.claim_sets
        if all(_satisfied(claims, by_id[i]) for i in option)
    ]
    if not usable:
        return set()
    everything = set().union(*usable)
    needed = set.intersection(*usable)
    return everything - needed


def _types(query: CredentialQuery) -> list[str]:
    """The credential types a query asks for: its ``vct_values`` (SD-JWT VC), or its
    ``doctype_value`` (mdoc, OpenID4VP 1.0 Appendix B.2.2)."""
    if query.format == MSO_MDOC:
        doctype = query.meta.get("doctype_value")
        return [doctype] if isinstance(doctype, str) else []
    return list(query.meta.get("vct_values", []))


def _verifier(request: CheckedRequest, preferred: Sequence[str]) -> VerifierView:
    names = client_names(request.client_metadata)
    untagged = request.verifier_metadata.client_name
    claimed = next((names[tag] for tag in [*preferred, "en"] if tag in names), None)
    if claimed is None and not isinstance(untagged, msgspec.UnsetType):
        claimed = untagged
    return VerifierView(
        client_id=request.client_id,
        authenticated=request.authenticated,
        name=request.certificate_name if request.authenticated else None,
        claimed_name=None if claimed is None else claimed[:200],
        claimed_name_verified=False,
        certificate=request.certificate,
        registered=request.registration is not None,
        response_host=request.response_uri.split("/")[2] if "//" in request.response_uri else None,
    )


def _linkable(holding: Holding) -> bool:
    """Whether the next presentation of this credential shows a copy shown before."""
    return holding.record.instance_to_show(holding.stored.presentations)[1]


def _organization(registration: dict[str, Any]) -> str | None:
    organization = registration.get("organization")
    return organization[:200] if isinstance(organization, str) and organization else None


def consent_view(
    context: WalletContext,
    presentation_id: str,
    expires_at: float,
    request: CheckedRequest,
    holdings: Sequence[Holding],
    *,
    preferred: Sequence[str],
    waiting: Sequence[WaitingIssuance] = (),
) -> ConsentView:
    """The consent view; ``waiting``: the citizen's issuances waiting for an issuer's
    authorization, read when the registration says a purpose serves an issuance."""
    query = parse_dcql_query(request.payload["dcql_query"])
    usable = [h for h in holdings if h.status not in ("revoked", "expired")]
    match = match_query(query, [candidate(h) for h in usable])
    needed = required_queries(query) | _chosen_for_required_sets(query, match)
    by_id = {h.stored.credential_id: h for h in holdings}
    requests = []
    for credential_query in query.credentials:
        if match.satisfied and credential_query.id not in match.selected_queries:
            continue  # an alternative (credential_sets) the answer does not take
        matches = match.candidates.get(credential_query.id, [])
        first = by_id[matches[0].credential_id] if matches else None
        optional = (
            _optional_claims(credential_query, first.record.claims) if first is not None else set()
        )
        labels = first.record.claim_display if first is not None else []
        claims = []
        if not isinstance(credential_query.claims, msgspec.UnsetType):
            for claim in credential_query.claims:
                name = path_name(claim.path)
                claims.append(
                    RequestedClaim(
                        path=list(claim.path),
                        name=name,
                        label=label_for(labels, claim.path, preferred),
                        optional=name in optional,
                        intent_to_retain=True if claim.intent_to_retain is True else UNSET,
                    )
                )
        requests.append(
            RequestedCredential(
                query_id=credential_query.id,
                required=credential_query.id in needed,
                format=credential_query.format,
                types=_types(credential_query),
                claims=claims,
                candidates=[
                    AnsweringCredential(
                        credential_id=m.credential_id,
                        name=(
                            pick(by_id[m.credential_id].record.credential_display, preferred) or {}
                        ).get("name", by_id[m.credential_id].record.configuration_id),
                        issuer=by_id[m.credential_id].record.issuer,
                        status=by_id[m.credential_id].status,
                        linkable=_linkable(by_id[m.credential_id]),
                    )
                    for m in matches
                ],
            )
        )
    warnings = []
    purpose = None
    issuance: IssuanceContext | UnsetType = UNSET
    if request.registration is not None:
        registered, beyond = registered_purpose(
            request.registration, request.payload["dcql_query"], preferred
        )
        if registered is not None:
            purpose = registered.shown
            if registered.issuance is not None:
                issuance = issuance_context(
                    context,
                    registered.issuance,
                    _organization(request.registration),
                    waiting,
                    preferred,
                )
        if beyond:
            warnings.append(
                "beyond_registration: asks for more than the verifier is registered for: "
                + ", ".join(beyond)
            )
    elif request.registration_problem is not None:
        warnings.append(f"registration_invalid: {request.registration_problem}")
    if not request.authenticated:
        warnings.append(
            "unauthenticated_verifier: nobody vouches for this verifier; the name shown is "
            "what it says about itself"
        )
    if not match.satisfied:
        warnings.append("cannot_satisfy: none of your credentials can answer this request")
    retained = [c.label for r in requests for c in r.claims if c.intent_to_retain is True]
    if retained:
        warnings.append(
            "intent_to_retain: the verifier says it will keep, after the check: "
            + ", ".join(retained)
        )
    linkable = sorted(
        {
            str(
                (
                    pick(by_id[found[0].credential_id].record.credential_display, preferred) or {}
                ).get("name", by_id[found[0].credential_id].record.configuration_id)
            )
            for found in match.candidates.values()
            if found and _linkable(by_id[found[0].credential_id])
        }
    )
    if linkable:
        warnings.append(
            "linkable: no fresh copy is left of " + ", ".join(linkable) + "; a verifier that "
            "saw an earlier presentation could tell it is you again"
        )
    if any(h.status in ("revoked", "expired", "suspended") for h in holdings):
        skipped = [h for h in holdings if h.status in ("revoked", "expired")]
        if skipped and any(
            match_credential(q, candidate(h)) for q in query.credentials for h in skipped
        ):
            warnings.append("invalid_credentials: revoked or expired credentials are not offered")
    return ConsentView(
        presentation_id=presentation_id,
        expires_at=int(expires_at),
        verifier=_verifier(request, preferred),
        purpose=purpose,
        issuance=issuance,
        response_mode=request.response_mode,
        requests=requests,
        satisfiable=match.satisfied,
        warnings=warnings,
    )
