"""What the credential response tells the wallet of the register reads behind it (the
``register_reads`` extension of ``core.oid4vci.CredentialResponse``): the register's
name and when the agency read it for this offer, so the citizen's activity log can say
"the agency read your data from the register to issue your credential". Only where the
offer's claims were read from the register (``Offer.register_read_at``), never for data
a clerk typed in."""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from core.messages import LocalizedName
from core.oid4vci import RegisterRead
from issuers.domain import Agency, Offer, RegisterPurpose


def register_reads(agency: Agency, offer: Offer) -> list[RegisterRead] | UnsetType:
    if offer.register_read_at is None:
        return UNSET
    return [
        RegisterRead(
            register=[
                LocalizedName(locale=d.locale, name=d.name)
                for d in agency.register_display_for(_record_id(agency, offer.configuration_id))
            ],
            purpose=RegisterPurpose.ISSUE_CREDENTIAL.value,
            read_at=int(offer.register_read_at),
        )
    ]


def _record_id(agency: Agency, configuration_id: str) -> str:
    """The configuration whose records an offer's claims are (an mdoc's SD-JWT twin)."""
    configuration = agency.configurations.get(configuration_id)
    return configuration_id if configuration is None else configuration.record_id
