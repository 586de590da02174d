"""Revoking, suspending and unsuspending credentials (Token Status List §7.1: INVALID,
SUSPENDED, VALID) by credential, by citizen, or by the status reference found inside a
presented credential. Revocation is final, and ends the refresh tokens wallets hold for
the revoked credentials (all of the citizen's, when revoking by citizen): no fresh batch
of a revoked credential. The change shows in the published list within its ``ttl``; every
action goes to the audit trail."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from core.audit.trail import AuditEntry
from core.identifiers import InvalidIdentifier, checked_identifier
from issuers.domain import STATUS_ACTIONS, AuditEvent, CredentialSelector, IssuedCredential
from issuers.services.context import IssuerContext
from issuers.services.issue_credential import status_list_uri

STATUS_NAMES = {0: "valid", 1: "revoked", 2: "suspended"}
#: The audit trail's name of each action (``core.audit.trail``).
AUDITED_ACTIONS = {
    "revoke": "credential.revoked",
    "suspend": "credential.suspended",
    "unsuspend": "credential.reinstated",
}


class InvalidSelection(ValueError):
    """The request names no credentials in a way this agency can resolve."""


@dataclass(frozen=True, slots=True)
class StatusChange:
    action: str
    changed: list[IssuedCredential]
    unchanged: int


def selector_from(
    context: IssuerContext,
    issuer_id: str,
    *,
    credential_id: str | None = None,
    subject_id: str | None = None,
    status_uri: str | None = None,
    status_idx: int | None = None,
) -> CredentialSelector:
    given = [v is not None for v in (credential_id, subject_id, status_uri)]
    if sum(given) != 1:
        raise InvalidSelection(
            "name exactly one of credential_id, subject_id or status_uri with status_idx"
        )
    try:
        if credential_id is not None:
            return CredentialSelector(
                credential_id=checked_identifier(credential_id, what="credential_id", max_length=64)
            )
        if subject_id is not None:
            return CredentialSelector(
                subject_id=checked_identifier(subject_id, what="subject_id", max_length=200)
            )
    except InvalidIdentifier as exc:
        raise InvalidSelection(str(exc)) from None
    prefix = status_list_uri(context, issuer_id, "")
    if (
        status_uri is None
        or not status_uri.startswith(prefix)
        or len(status_uri) > 500
        or not status_uri.isprintable()
    ):
        raise InvalidSelection("status_uri must be one of this agency's status lists")
    if status_idx is None or status_idx < 0:
        raise InvalidSelection("status_idx must be a non-negative integer")
    return CredentialSelector(status_list_id=status_uri[len(prefix) :], status_index=status_idx)


async def _end_refreshing(
    context: IssuerContext,
    issuer_id: str,
    selector: CredentialSelector,
    revoked: list[IssuedCredential],
) -> None:
    if selector.subject_id is not None:
        await context.refresh_tokens.revoke_for_subject(issuer_id, selector.subject_id)
        return
    for subject_id, configuration_id in {(c.subject_id, c.configuration_id) for c in revoked}:
        await context.refresh_tokens.revoke_for_subject(issuer_id, subject_id, configuration_id)


async def change_status(
    context: IssuerContext,
    issuer_id: str,
    action: str,
    selector: CredentialSelector,
    *,
    actor: str,
    reason: str = "",
) -> StatusChange:
    context.agency(issuer_id)
    if action not in STATUS_ACTIONS:
        raise InvalidSelection(f"unknown action {action}")
    applies_to, new_status = STATUS_ACTIONS[action]
    changed, unchanged = await context.ledger.change_status(
        issuer_id, selector, applies_to=applies_to, new_status=new_status
    )
    if action == "revoke":
        await _end_refreshing(context, issuer_id, selector, changed)
    target = (
        selector.credential_id
        or selector.subject_id
        or f"{selector.status_list_id}#{selector.status_index}"
    )
    await context.audit.record(
        AuditEvent(
            issuer_id=issuer_id,
            at=context.clock.now(),
            actor=actor,
            action=f"credential.{action}",
            object_id=target,
            outcome=f"{len(changed)} changed, {unchanged} unchanged",
            detail=reason[:500],
        )
    )
    # the deployment's trail: how many of each configuration changed, never which credential
    # (one entry per configuration, so the oversight figures count each type apart); an
    # action that changed nothing is one entry of outcome ``unchanged``, which no figure counts
    per_configuration = Counter(c.configuration_id for c in changed)
    for configuration_id, number in sorted(per_configuration.items()):
        await context.audit_trail.append(
            AuditEntry(
                "operator",
                issuer_id,
                AUDITED_ACTIONS[action],
                facts={"credential_configuration": configuration_id, "changed": number},
            )
        )
    if not per_configuration:
        await context.audit_trail.append(
            AuditEntry("operator", issuer_id, AUDITED_ACTIONS[action], "unchanged", {"changed": 0})
        )
    return StatusChange(action, changed, unchanged)
