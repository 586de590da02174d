"""What the deployment's audit trail (``core.audit``) records of a counter's presentation
requests: the claims asked for (their paths, sorted), the purpose and template, and how
the request ended; never a citizen's data, a transaction id or a nonce.

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


def requested_claims(dcql: Mapping[str, Any]) -> tuple[str, ...]:
    """The claim paths a DCQL query asks for, each as ``a/b/c`` (``*`` for an index or
    any element), sorted and without repeats."""
    paths: set[str] = set()
    credentials = dcql.get("credentials")
    for credential in credentials if isinstance(credentials, list) else ():
        claims = credential.get("claims") if isinstance(credential, dict) else None
        for claim in claims if isinstance(claims, list) else ():
            text = _path_text(claim.get("path")) if isinstance(claim, dict) else None
            if text is not None:
                paths.add(text)
    return tuple(sorted(paths))


def presentation_facts(dcql: Mapping[str, Any], template: str | None) -> dict[str, FactValue]:
    return {
        "claims": requested_claims(dcql),
        "purpose": template or "",
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


async def audit_answer(context: VerifierContext, transaction: Transaction, outcome: str) -> None:
    await audit_presentation(
        context,
        transaction.verifier_id,
        "presentation.answered",
        presentation_facts(transaction.dcql_query, transaction.purpose),
        outcome,
    )


def wallet_outcome(error: object) -> str:
    """The outcome recorded for a wallet's error answer."""
    return error if isinstance(error, str) and error in WALLET_ERRORS else "wallet_error"
