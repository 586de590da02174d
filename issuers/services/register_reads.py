"""What the credential response tells the wallet of the register reads behind it (the
``register_reads`` extension of ``core.oid4vci.CredentialResponse``): the register's
name, when the agency read it for this offer and why, so the citizen's activity log can
say "the agency read your data from the register to issue your credential" (or to renew
it, or to find out who showed their national ID). Only where the offer's claims were read
from the register (``Offer.register_read_at``), never for data a clerk typed in.

Each read is named as it happened: the read that identified the citizen from a
presentation during issuance (``identify_citizen``, ``Offer.identified_at``), then the
read of the credential's data (``issue_credential``, or ``refresh_credential`` for a
wallet's fresh batch). Each carries an ``id`` derived from the offer, the same in the
response for every format of an offer of several, so the wallet lists it once."""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from core.messages import LocalizedName
from core.oid4vci import RegisterRead
from issuers.domain import Agency, Offer, RegisterPurpose
from issuers.services.codes import sha256_hex

#: Keeps the derivation of a read's id apart from any other hash of an offer id.
READ_ID_LABEL = "idwallet register read/"


def register_reads(agency: Agency, offer: Offer) -> list[RegisterRead] | UnsetType:
    if offer.register_read_at is None:
        return UNSET
    register = [
        LocalizedName(locale=d.locale, name=d.name)
        for d in agency.register_display_for(_record_id(agency, offer.configuration_id))
    ]
    reads: list[tuple[str, float]] = []
    if offer.identified_at is not None:
        reads.append((RegisterPurpose.IDENTIFY_CITIZEN.value, offer.identified_at))
    purpose = offer.register_read_purpose or RegisterPurpose.ISSUE_CREDENTIAL.value
    reads.append((purpose, offer.register_read_at))
    return [
        RegisterRead(
            register=register,
            purpose=purpose,
            read_at=int(read_at),
            id=sha256_hex(f"{READ_ID_LABEL}{offer.offer_id}/{purpose}")[:32],
        )
        for purpose, read_at in reads
    ]


def _record_id(agency: Agency, configuration_id: str) -> str:
    """The configuration whose records an offer's claims are (an mdoc's SD-JWT twin)."""
    configuration = agency.configurations.get(configuration_id)
    return configuration_id if configuration is None else configuration.record_id
