"""An offer of what the agency's register holds for a citizen, made for a wallet rather
than by a clerk: when a citizen signs in at the authorization endpoint, when a wallet
refreshes a credential, and when a clerk offers without typing the claims in. Its claims
are the register's at that moment, read through the agency's register connector (the
once-only principle; each read audited as ``register.read``), never typed in by anyone;
the offer is redeemed at once by the grant that made it, as any offer is redeemed, and the
audit trail says who asked and why (written with the offer, in one transaction).

A register that cannot be read (unreachable, too slow, refusing, or answering something
that fails a check) leaves nothing behind: no offer, no code, no status index; the wallet
is told ``temporarily_unavailable`` (RFC 6749 §4.1.2.1), the desk a 503 problem.
"""

from __future__ import annotations

import uuid

from core.errors import AccessDenied
from issuers.domain import (
    AuditEvent,
    Offer,
    OfferState,
    RegisterPurpose,
    RegisterQuery,
    RegisterRecord,
    RegisterUnavailable,
)
from issuers.services.codes import pre_authorized_code, sha256_hex
from issuers.services.context import IssuerContext


class RegisterNotRead(AccessDenied):
    """The register could not be read, so nothing was issued: the wallet may try again
    (``temporarily_unavailable``, RFC 6749 §4.1.2.1)."""

    error = "temporarily_unavailable"
    status_code = 503

    def __init__(self, failed: RegisterUnavailable) -> None:
        super().__init__(
            "the agency's register could not be read; nothing was issued, try again later",
            detail=f"register {failed.reason}: {failed.detail}"[:300],
        )
        self.reason = failed.reason


async def read_record(
    context: IssuerContext,
    issuer_id: str,
    configuration_id: str,
    subject_id: str,
    purpose: RegisterPurpose,
) -> RegisterRecord | None:
    """The register's record of the citizen for the configuration (an mdoc's: the record
    it is made from). Raises ``RegisterUnavailable``."""
    record_id = context.configuration(issuer_id, configuration_id).record_id
    return await context.register.read(
        RegisterQuery(issuer_id, record_id, purpose, subject_id=subject_id)
    )


async def register_offer(
    context: IssuerContext,
    issuer_id: str,
    configuration_id: str,
    subject_id: str,
    *,
    actor: str,
    outcome: str,
    purpose: RegisterPurpose = RegisterPurpose.ISSUE_CREDENTIAL,
    identified_at: float | None = None,
) -> tuple[Offer, AuditEvent] | None:
    """A new offer of what the register holds now, and the audit entry of its making, to be
    stored together; None when the register holds no such credential for the citizen.
    ``identified_at``: when the register was asked who the citizen is, for this offer.
    Raises ``RegisterUnavailable`` when the register could not be read."""
    record = await read_record(context, issuer_id, configuration_id, subject_id, purpose)
    if record is None:
        return None
    return offer_of_record(
        context,
        issuer_id,
        configuration_id,
        record,
        actor=actor,
        outcome=outcome,
        purpose=purpose,
        identified_at=identified_at,
    )


def offer_of_record(
    context: IssuerContext,
    issuer_id: str,
    configuration_id: str,
    record: RegisterRecord,
    *,
    actor: str,
    outcome: str,
    purpose: RegisterPurpose = RegisterPurpose.ISSUE_CREDENTIAL,
    identified_at: float | None = None,
) -> tuple[Offer, AuditEvent]:
    """The offer of a record just read (for ``purpose``), redeemed at once by the grant
    that asked."""
    now = context.clock.now()
    offer_id = str(uuid.uuid4())
    return (
        Offer(
            offer_id=offer_id,
            issuer_id=issuer_id,
            configuration_id=configuration_id,
            subject_id=record.subject_id,
            claims=dict(record.claims),
            code_hash=sha256_hex(pre_authorized_code(context.secret, offer_id)),
            tx_code_hash=None,
            tx_code_attempts=0,
            tx_code_max_attempts=context.policy.tx_code_max_attempts,
            state=OfferState.OFFERED,
            created_at=now,
            expires_at=now + context.policy.offer_lifetime,
            register_read_at=now,
            register_read_purpose=purpose.value,
            identified_at=identified_at,
        ),
        AuditEvent(
            issuer_id=issuer_id,
            at=now,
            actor=actor[:100],
            action="offer.create",
            object_id=offer_id,
            outcome=outcome,
            detail=f"{configuration_id} for subject {record.subject_id} from the register",
        ),
    )


async def offer_from_register(
    context: IssuerContext,
    issuer_id: str,
    configuration_id: str,
    subject_id: str,
    *,
    actor: str,
    outcome: str,
    purpose: RegisterPurpose = RegisterPurpose.ISSUE_CREDENTIAL,
) -> str | None:
    """The new offer's id, stored with its audit entry; None when the register holds no
    such credential for the citizen. Raises ``RegisterUnavailable``."""
    made = await register_offer(
        context,
        issuer_id,
        configuration_id,
        subject_id,
        actor=actor,
        outcome=outcome,
        purpose=purpose,
    )
    if made is None:
        return None
    offer, audit = made
    await context.offers.add(offer, audit=audit)
    return offer.offer_id
