"""An offer of what the agency's register holds for a citizen, made for a wallet rather
than by a clerk: when a citizen signs in at the authorization endpoint, and when a wallet
refreshes a credential. Its claims are the register's at that moment, never typed in by
anyone (the once-only principle); the offer is redeemed at once by the grant that made
it, as any offer is redeemed, and the audit trail says who asked and why (written with
the offer, in one transaction).
"""

from __future__ import annotations

import uuid

from issuers.domain import AuditEvent, Offer, OfferState
from issuers.services.codes import pre_authorized_code, sha256_hex
from issuers.services.context import IssuerContext


def register_offer(
    context: IssuerContext,
    issuer_id: str,
    configuration_id: str,
    subject_id: str,
    *,
    actor: str,
    outcome: str,
) -> tuple[Offer, AuditEvent] | None:
    """A new offer of what the register holds now, and the audit entry of its making, to be
    stored together; None when the register holds no such credential for the citizen."""
    agency = context.agency(issuer_id)
    record_id = agency.configurations[configuration_id].record_id
    claims = agency.register.get(subject_id, {}).get(record_id)
    if claims is None:
        return None
    now = context.clock.now()
    offer_id = str(uuid.uuid4())
    return (
        Offer(
            offer_id=offer_id,
            issuer_id=issuer_id,
            configuration_id=configuration_id,
            subject_id=subject_id,
            claims=dict(claims),
            code_hash=sha256_hex(pre_authorized_code(context.secret, offer_id)),
            tx_code_hash=None,
            tx_code_attempts=0,
            tx_code_max_attempts=context.policy.tx_code_max_attempts,
            state=OfferState.OFFERED,
            created_at=now,
            expires_at=now + context.policy.offer_lifetime,
        ),
        AuditEvent(
            issuer_id=issuer_id,
            at=now,
            actor=actor[:100],
            action="offer.create",
            object_id=offer_id,
            outcome=outcome,
            detail=f"{configuration_id} for subject {subject_id} from the register",
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
) -> str | None:
    """The new offer's id, stored with its audit entry; None when the register holds no
    such credential for the citizen."""
    made = register_offer(
        context, issuer_id, configuration_id, subject_id, actor=actor, outcome=outcome
    )
    if made is None:
        return None
    offer, audit = made
    await context.offers.add(offer, audit=audit)
    return offer.offer_id
