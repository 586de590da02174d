"""What the desk reads from the agency's register (the once-only principle): a citizen's
records when a clerk looks them up (``desk_lookup``), and the claims of an offer a clerk
makes without typing them in (``issue_credential``). Each read goes through the agency's
register connector and is audited there (``register.read``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.identifiers import checked_identifier
from issuers.domain import RegisterPurpose, RegisterQuery, RegisterUnavailable
from issuers.services.context import IssuerContext
from issuers.services.create_offer import MAX_SUBJECT_ID
from issuers.services.register_offers import read_record


class NotInRegister(LookupError):
    """The register holds no such credential for the citizen."""


@dataclass(frozen=True, slots=True)
class RegisterClaims:
    claims: dict[str, Any]
    read_at: float


async def claims_for_offer(
    context: IssuerContext, issuer_id: str, configuration_id: str, subject_id: str
) -> RegisterClaims:
    """The claims of a new offer, read now. Raises ``UnknownConfiguration``,
    ``InvalidIdentifier``, ``NotInRegister`` or ``RegisterUnavailable``."""
    subject_id = checked_identifier(subject_id, what="subject_id", max_length=MAX_SUBJECT_ID)
    context.configuration(issuer_id, configuration_id)
    record = await read_record(
        context, issuer_id, configuration_id, subject_id, RegisterPurpose.ISSUE_CREDENTIAL
    )
    if record is None:
        raise NotInRegister("the agency's register holds no such credential for this citizen")
    return RegisterClaims(record.claims, context.clock.now())


@dataclass(frozen=True, slots=True)
class DeskRecords:
    """The citizen's records by configuration id, or why the register could not be read."""

    records: dict[str, dict[str, Any]]
    unavailable: str | None = None


async def records_for_desk(context: IssuerContext, issuer_id: str, subject_id: str) -> DeskRecords:
    """Every record the register holds of the citizen for the agency's configurations
    (one query per record configuration; an mdoc is made from another's record)."""
    agency = context.agency(issuer_id)
    records: dict[str, dict[str, Any]] = {}
    for configuration in agency.configurations.values():
        if configuration.record_configuration is not None:
            continue
        try:
            record = await context.register.read(
                RegisterQuery(
                    issuer_id,
                    configuration.id,
                    RegisterPurpose.DESK_LOOKUP,
                    subject_id=subject_id,
                )
            )
        except RegisterUnavailable as failed:
            return DeskRecords(records, f"the register could not be read ({failed.reason})")
        if record is not None:
            records[configuration.id] = record.claims
    return DeskRecords(records)
