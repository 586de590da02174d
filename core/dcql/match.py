"""The DCQL matcher (OpenID4VP 1.0 §6.4): pure functions from a query and decoded
credentials to which credentials, and which claim paths of each, satisfy it.

Value matching (§6.3 ``values``) compares type and value exactly (``true`` is not ``1``).
An mdoc's claims are given by namespace, then element, so that a claim path
``[namespace, element]`` (B.2.4) selects one element.
Where a pointer selects several elements, one matching element is enough.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from core.claim_paths import ClaimPath, ClaimPathError, select
from core.dcql.model import ClaimsQuery, CredentialQuery, DcqlQuery
from core.dcql.parse import MDOC_FORMAT, SD_JWT_VC_FORMAT


@dataclass(frozen=True, slots=True)
class CandidateCredential:
    """A credential as the matcher sees it: decoded claims, never the secrets."""

    id: str
    format: str
    claims: Mapping[str, Any]
    vct: str | None = None
    #: Types this credential's ``vct`` extends (SD-JWT VC type metadata ``extends``).
    vct_ancestors: tuple[str, ...] = ()
    holder_binding: bool = True
    #: base64url AuthorityKeyIdentifier values of the issuer's certificate chain.
    authority_key_identifiers: frozenset[str] = field(default_factory=frozenset)
    #: An mdoc's ``docType`` (its ``claims`` are then by namespace, then element).
    doctype: str | None = None


@dataclass(frozen=True, slots=True)
class CredentialMatch:
    query_id: str
    credential_id: str
    #: The claims to disclose; empty means only what is always presented.
    claim_paths: tuple[ClaimPath, ...]


@dataclass(frozen=True, slots=True)
class DcqlMatch:
    #: For every Credential Query, every credential that satisfies it (wallet order).
    candidates: dict[str, list[CredentialMatch]]
    #: Whether the query as a whole can be answered (§6.4.2).
    satisfied: bool
    #: A default answer: the Credential Query ids to answer, in query order.
    selected_queries: tuple[str, ...]

    def default_presentation(
        self, multiple: Mapping[str, bool]
    ) -> dict[str, list[CredentialMatch]]:
        """The first candidate of each selected query, or all of them where ``multiple``."""
        return {
            q: self.candidates[q] if multiple.get(q) else self.candidates[q][:1]
            for q in self.selected_queries
        }


def _value_matches(selected: list[Any], values: Sequence[Any]) -> bool:
    for element in selected:
        for wanted in values:
            if type(element) is type(wanted) and element == wanted:
                return True
    return False


def _claim_satisfied(claims: Mapping[str, Any], claim: ClaimsQuery) -> bool:
    try:
        selected = select(claims, claim.path)
    except ClaimPathError:
        return False
    if isinstance(claim.values, msgspec.UnsetType):
        return True
    return _value_matches(selected, claim.values)


def _meta_matches(query: CredentialQuery, credential: CandidateCredential) -> bool:
    if query.format == SD_JWT_VC_FORMAT:
        wanted = set(query.meta.get("vct_values", ()))
        return credential.vct in wanted or bool(wanted.intersection(credential.vct_ancestors))
    if query.format == MDOC_FORMAT:  # B.2.2: the one doctype asked for
        return credential.doctype is not None and credential.doctype == query.meta.get(
            "doctype_value"
        )
    return True


def _authority_matches(query: CredentialQuery, credential: CandidateCredential) -> bool:
    if isinstance(query.trusted_authorities, msgspec.UnsetType):
        return True
    for authority in query.trusted_authorities:
        # Only "aki" can be decided from the credential alone; other types need a trust
        # list or federation resolution and are treated as not matching.
        if authority.type == "aki" and credential.authority_key_identifiers.intersection(
            authority.values
        ):
            return True
    return False


def match_credential(
    query: CredentialQuery, credential: CandidateCredential
) -> CredentialMatch | None:
    """§6.4.1: the claim paths ``credential`` would disclose for ``query``, or None."""
    if credential.format != query.format or not _meta_matches(query, credential):
        return None
    if query.require_cryptographic_holder_binding and not credential.holder_binding:
        return None
    if not _authority_matches(query, credential):
        return None
    if isinstance(query.claims, msgspec.UnsetType):
        return CredentialMatch(query.id, credential.id, ())
    if isinstance(query.claim_sets, msgspec.UnsetType):
        if all(_claim_satisfied(credential.claims, c) for c in query.claims):
            return CredentialMatch(
                query.id, credential.id, tuple(tuple(c.path) for c in query.claims)
            )
        return None
    by_id = {c.id: c for c in query.claims if isinstance(c.id, str)}
    for option in query.claim_sets:
        chosen = [by_id[i] for i in option]
        if all(_claim_satisfied(credential.claims, c) for c in chosen):
            return CredentialMatch(query.id, credential.id, tuple(tuple(c.path) for c in chosen))
    return None


def match_query(query: DcqlQuery, credentials: Sequence[CandidateCredential]) -> DcqlMatch:
    candidates: dict[str, list[CredentialMatch]] = {}
    for credential_query in query.credentials:
        found = [m for c in credentials if (m := match_credential(credential_query, c)) is not None]
        candidates[credential_query.id] = found
    available = {q for q, found in candidates.items() if found}
    if isinstance(query.credential_sets, msgspec.UnsetType):
        every = tuple(c.id for c in query.credentials)
        satisfied = available.issuperset(every)
        return DcqlMatch(candidates, satisfied, every if satisfied else ())
    chosen: list[str] = []
    satisfied = True
    for credential_set in query.credential_sets:
        option = next((o for o in credential_set.options if available.issuperset(o)), None)
        if option is None:
            if credential_set.required:
                satisfied = False
            continue
        chosen.extend(q for q in option if q not in chosen)
    order = [c.id for c in query.credentials if c.id in chosen]
    return DcqlMatch(candidates, satisfied, tuple(order) if satisfied else ())
