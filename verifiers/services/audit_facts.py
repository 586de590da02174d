"""What the deployment's audit trail (``core.audit``) records of a counter's presentation
requests: the claims asked for (their paths, sorted), the purpose and template, and how
the request ended; never a citizen's data, a transaction id or a nonce.

Only claims the deployment knows are recorded by name: those of its templates and of
the counter's registration. A raw DCQL query may name anything (it is the counter's own
text, and the trail is never erased), so any other path is recorded as ``unregistered``,
once, and at most ``MAX_AUDITED_CLAIMS`` names are kept. The purpose is the template's
name, or for raw DCQL the registered purposes the query falls within (their names,
sorted, comma-separated; empty when none does, as for a request refused for that).

Outcomes of an answer: ``ok``, the wallet's error code when it is one of OpenID4VP 1.0
§8.5 (``access_denied`` for a citizen who declined), ``wallet_error`` for any other code a
wallet sent, ``invalid_request`` for a presentation that failed a check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.audit.trail import AuditEntry, FactValue
from verifiers.domain import Transaction
from verifiers.services.context import VerifierContext

#: OpenID4VP 1.0 §8.5 and RFC 6749 §4.1.2.1 error codes a wallet may answer with.
WALLET_ERRORS = frozenset(
    {
        "access_denied",
        "invalid_request",
        "invalid_client",
        "invalid_scope",
        "unauthorized_client",
        "server_error",
        "temporarily_unavailable",
        "vp_formats_not_supported",
        "invalid_request_uri_method",
        "invalid_transaction_data",
        "wallet_unavailable",
    }
)
#: A claim path element that is no name: an array index or any element (DCQL §7).
_ANY = "*"
#: What the trail records for claim paths neither a template nor the registration names.
UNREGISTERED = "unregistered"
#: Claim names one entry records at most.
MAX_AUDITED_CLAIMS = 32


def _path_text(path: Any) -> str | None:
    if not isinstance(path, list) or not path:
        return None
    parts = []
    for element in path[:16]:
        if isinstance(element, str):
            parts.append(element[:64])
        elif element is None or isinstance(element, int):
            parts.append(_ANY)
        else:
            return None
    return "/".join(parts)


def requested_paths(dcql: Mapping[str, Any]) -> tuple[str, ...]:
    """The claim paths a DCQL query asks for, each as ``a/b/c`` (``*`` for an index or
    any element), sorted and without repeats."""
    paths: set[str] = set()
    credentials = dcql.get("credentials")
    for credential in credentials if isinstance(credentials, list) else ():
        paths.update(_credential_paths(credential))
    return tuple(sorted(paths))


def _credential_paths(credential: object) -> set[str]:
    claims = credential.get("claims") if isinstance(credential, dict) else None
    paths = set()
    for claim in claims if isinstance(claims, list) else ():
        text = _path_text(claim.get("path")) if isinstance(claim, dict) else None
        if text is not None:
            paths.add(text)
    return paths


def known_claims(context: VerifierContext, verifier_id: str) -> frozenset[str]:
    """The claim paths the deployment knows: its templates' and the counter's registered
    ones (a purpose may add claims to its template's)."""
    known = {
        text
        for template in context.templates.values()
        for credential in template.credentials
        for path in credential.claims
        if (text := _path_text(list(path))) is not None
    }
    party = context.parties.get(verifier_id)
    for purpose in party.purposes.values() if party is not None else ():
        for extra in purpose.additional_claims.values():
            known.update(t for path in extra if (t := _path_text(list(path))) is not None)
    return frozenset(known)


def requested_claims(dcql: Mapping[str, Any], known: frozenset[str]) -> tuple[str, ...]:
    """The known claim paths a query asks for, sorted; ``unregistered`` once for any
    others; at most ``MAX_AUDITED_CLAIMS``."""
    paths = requested_paths(dcql)
    named = [p for p in paths if p in known]
    if len(named) == len(paths):
        return tuple(named[:MAX_AUDITED_CLAIMS])
    return (*named[: MAX_AUDITED_CLAIMS - 1], UNREGISTERED)


def matched_purposes(context: VerifierContext, verifier_id: str, dcql: Mapping[str, Any]) -> str:
    """The counter's registered purposes a raw query falls within: those with a credential
    of a type and format the query asks for and the claims it asks of it (or any, where it
    asks none), comma-separated and sorted."""
    party = context.parties.get(verifier_id)
    credentials = dcql.get("credentials")
    if party is None or not isinstance(credentials, list):
        return ""
    matched = set()
    for asked in credentials:
        if not isinstance(asked, dict):
            continue
        kinds = _types(asked)
        paths = _credential_paths(asked)
        for name, purpose in party.purposes.items():
            template = context.templates.get(name)
            for credential in template.credentials if template is not None else ():
                if credential.format != asked.get("format") or not kinds & set(credential.types):
                    continue
                allowed = {_path_text(list(p)) for p in purpose.claims_for(credential)}
                if paths <= allowed:
                    matched.add(name)
    return ",".join(sorted(matched))


def _types(asked: Mapping[str, Any]) -> set[str]:
    meta = asked.get("meta")
    if not isinstance(meta, dict):
        return set()
    kinds = meta.get("vct_values")
    doctype = meta.get("doctype_value")
    found = {k for k in kinds if isinstance(k, str)} if isinstance(kinds, list) else set()
    if isinstance(doctype, str):
        found.add(doctype)
    return found


def presentation_facts(
    context: VerifierContext, verifier_id: str, dcql: Mapping[str, Any], template: str | None
) -> dict[str, FactValue]:
    return {
        "claims": requested_claims(dcql, known_claims(context, verifier_id)),
        "purpose": template
        if template is not None
        else matched_purposes(context, verifier_id, dcql),
        "template": template or "",
    }


async def audit_presentation(
    context: VerifierContext,
    verifier_id: str,
    action: str,
    facts: dict[str, FactValue],
    outcome: str = "ok",
) -> None:
    await context.audit_trail.append(AuditEntry("counter", verifier_id, action, outcome, facts))


def requested_entry(
    context: VerifierContext, verifier_id: str, dcql: Mapping[str, Any], template: str | None
) -> AuditEntry:
    """``presentation.requested``, stored with the request it records."""
    return AuditEntry(
        "counter",
        verifier_id,
        "presentation.requested",
        "ok",
        presentation_facts(context, verifier_id, dcql, template),
    )


def answered_entry(context: VerifierContext, transaction: Transaction, outcome: str) -> AuditEntry:
    """``presentation.answered``, stored with the answer it records."""
    return AuditEntry(
        "counter",
        transaction.verifier_id,
        "presentation.answered",
        outcome,
        presentation_facts(
            context, transaction.verifier_id, transaction.dcql_query, transaction.purpose
        ),
    )


def wallet_outcome(error: object) -> str:
    """The outcome recorded for a wallet's error answer."""
    return error if isinstance(error, str) and error in WALLET_ERRORS else "wallet_error"
