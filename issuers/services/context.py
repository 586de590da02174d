"""Everything the issuer's use cases share: the catalog, the public URL, the ports."""

from __future__ import annotations

from dataclasses import dataclass

from core.clock import SYSTEM_CLOCK, Clock
from issuers.domain import Agency, CredentialConfiguration
from issuers.ports import IssuerKeys


class UnknownAgency(LookupError):
    """No agency with that ``issuer_id`` (answered 404, like any unknown path)."""


class UnknownConfiguration(LookupError):
    """The agency has no credential configuration of that id."""


@dataclass(frozen=True, slots=True)
class IssuerContext:
    agencies: dict[str, Agency]
    public_base_url: str
    keys: IssuerKeys
    clock: Clock = SYSTEM_CLOCK

    def agency(self, issuer_id: str) -> Agency:
        agency = self.agencies.get(issuer_id)
        if agency is None:
            raise UnknownAgency(issuer_id)
        return agency

    def configuration(self, issuer_id: str, configuration_id: str) -> CredentialConfiguration:
        config = self.agency(issuer_id).configurations.get(configuration_id)
        if config is None:
            raise UnknownConfiguration(configuration_id)
        return config
