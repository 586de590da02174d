"""What the agency's authorization pages say about the credential: its names and the agency's
in every language of the catalog, and which register data it carries (the register's name
and the credential's top-level claims with their labels)."""

from __future__ import annotations

from collections.abc import Iterable

from core.messages import LocalizedName
from issuers.domain import Agency, ClaimLabel, Display
from issuers.services.sign_in_messages import RegisterClaim, RegisterData


def localized_names(displays: Iterable[Display | ClaimLabel]) -> list[LocalizedName]:
    return [LocalizedName(locale=d.locale, name=d.name) for d in displays]


def register_data(agency: Agency, configuration_id: str) -> RegisterData:
    """The register's name and the claims the configuration takes from it, in the
    catalog's order (nested claims go with their parent)."""
    configuration = agency.configurations[configuration_id]
    return RegisterData(
        name=localized_names(agency.register_display_for(configuration.record_id)),
        claims=[
            RegisterClaim(name=str(claim.path[0]), display=localized_names(claim.display))
            for claim in configuration.claims
            if len(claim.path) == 1
        ],
    )
