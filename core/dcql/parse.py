"""Validating a DCQL query (OpenID4VP 1.0 §6.1–§6.3 and the SD-JWT VC ``meta`` of B.3.5)."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from core.claim_paths import ClaimPathError, parse_claim_path
from core.dcql.model import CredentialQuery, DcqlQuery
from core.validation import explain

SD_JWT_VC_FORMAT = "dc+sd-jwt"
MDOC_FORMAT = "mso_mdoc"
MAX_CREDENTIAL_QUERIES = 32
MAX_CLAIMS_PER_QUERY = 128
_IDENTIFIER = re.compile(r"[A-Za-z0-9_-]+")


class DcqlError(ValueError):
    """The query breaks a rule of §6; the message says which, for the ``invalid_request``."""


def _check_identifier(value: str, what: str) -> None:
    if not _IDENTIFIER.fullmatch(value):
        raise DcqlError(f"{what} {value!r} must be alphanumeric, '_' or '-'")


def _non_empty(items: list[Any], what: str) -> None:
    if not items:
        raise DcqlError(f"{what} must be a non-empty array")


def _check_meta(query: CredentialQuery) -> None:
    if query.format == SD_JWT_VC_FORMAT:
        vct_values = query.meta.get("vct_values")
        if (
            not isinstance(vct_values, list)
            or not vct_values
            or not all(isinstance(v, str) and v for v in vct_values)
        ):
            raise DcqlError(
                f"credential {query.id!r}: meta.vct_values must be a non-empty array of strings"
            )
    elif query.format == MDOC_FORMAT and not isinstance(query.meta.get("doctype_value"), str):
        raise DcqlError(f"credential {query.id!r}: meta.doctype_value must be a string")


def _check_claims(query: CredentialQuery, *, strict: bool) -> CredentialQuery:
    if isinstance(query.claims, msgspec.UnsetType):
        if not isinstance(query.claim_sets, msgspec.UnsetType):
            raise DcqlError(f"credential {query.id!r}: claim_sets needs claims")
        return query
    _non_empty(query.claims, f"credential {query.id!r} claims")
    if len(query.claims) > MAX_CLAIMS_PER_QUERY:
        raise DcqlError(f"credential {query.id!r}: too many claims")
    ids: set[str] = set()
    paths: set[tuple[Any, ...]] = set()
    kept = []
    for claim in query.claims:
        try:
            path = parse_claim_path(claim.path)
        except ClaimPathError as exc:
            raise DcqlError(f"credential {query.id!r}: {exc}") from exc
        if query.format == MDOC_FORMAT and (
            len(path) != 2 or not all(isinstance(p, str) for p in path)
        ):
            raise DcqlError(f"credential {query.id!r}: an mdoc path is namespace and element")
        if isinstance(claim.id, str):
            _check_identifier(claim.id, "claim id")
            if claim.id in ids:
                raise DcqlError(f"credential {query.id!r}: claim id {claim.id!r} is used twice")
            ids.add(claim.id)
        elif not isinstance(query.claim_sets, msgspec.UnsetType):
            raise DcqlError(
                f"credential {query.id!r}: every claim needs an id when claim_sets is present"
            )
        if not isinstance(claim.values, msgspec.UnsetType):
            _non_empty(claim.values, "values")
        if path in paths:
            if strict:
                raise DcqlError(f"credential {query.id!r}: the same claim is requested twice")
            continue  # §6.1: Wallets SHOULD ignore duplicate claim queries
        paths.add(path)
        kept.append(claim)
    if not isinstance(query.claim_sets, msgspec.UnsetType):
        _non_empty(query.claim_sets, f"credential {query.id!r} claim_sets")
        for option in query.claim_sets:
            _non_empty(option, "a claim_sets option")
            unknown = set(option) - ids
            if unknown:
                raise DcqlError(
                    f"credential {query.id!r}: claim_sets names unknown claims {sorted(unknown)}"
                )
    return msgspec.structs.replace(query, claims=kept)


def parse_dcql_query(value: object, *, strict: bool = True) -> DcqlQuery:
    """Validate a decoded JSON DCQL query. ``strict`` (verifiers) also refuses duplicate
    claim paths; wallets pass ``strict=False`` and ignore them as §6.1 says."""
    try:
        query = msgspec.convert(value, DcqlQuery)
    except msgspec.ValidationError as exc:
        raise DcqlError(f"malformed DCQL query {explain(exc)}") from exc
    _non_empty(query.credentials, "credentials")
    if len(query.credentials) > MAX_CREDENTIAL_QUERIES:
        raise DcqlError("too many credential queries")
    seen: set[str] = set()
    checked = []
    for credential in query.credentials:
        _check_identifier(credential.id, "credential id")
        if credential.id in seen:
            raise DcqlError(f"credential id {credential.id!r} is used twice")
        seen.add(credential.id)
        if not credential.format:
            raise DcqlError(f"credential {credential.id!r}: format is required")
        _check_meta(credential)
        if not isinstance(credential.trusted_authorities, msgspec.UnsetType):
            _non_empty(credential.trusted_authorities, "trusted_authorities")
            for authority in credential.trusted_authorities:
                _non_empty(authority.values, "trusted_authorities values")
        checked.append(_check_claims(credential, strict=strict))
    if not isinstance(query.credential_sets, msgspec.UnsetType):
        _non_empty(query.credential_sets, "credential_sets")
        for credential_set in query.credential_sets:
            _non_empty(credential_set.options, "credential_sets options")
            for option in credential_set.options:
                _non_empty(option, "a credential_sets option")
                unknown = set(option) - seen
                if unknown:
                    raise DcqlError(f"credential_sets names unknown credentials {sorted(unknown)}")
    return msgspec.structs.replace(query, credentials=checked)
