"""The register as a file beside the catalog (``issuers/catalog/registers/<agency>.json``,
loaded and checked at start-up): for development and tests, where no register service
runs. It answers exactly as a register service would."""

from __future__ import annotations

from issuers.domain import (
    Agency,
    RegisterQuery,
    RegisterRecord,
    RegisterUnavailable,
    SeveralInRegister,
)


class FileRegister:
    """Each agency's register file, as ``load_catalog`` read it; an agency reads the
    register the catalog names for the configuration (``register_reads``), its own by
    default."""

    def __init__(self, agencies: dict[str, Agency]) -> None:
        self._agencies = agencies

    async def read(self, query: RegisterQuery) -> RegisterRecord | None:
        agency = self._agencies.get(query.issuer_id)
        read = (
            None
            if agency is None
            else self._agencies.get(agency.register_for(query.configuration_id))
        )
        if read is None:
            raise RegisterUnavailable("refused", "no register for this agency")
        if query.subject_id is not None:
            claims = read.register.get(query.subject_id, {}).get(query.configuration_id)
            return None if claims is None else RegisterRecord(query.subject_id, dict(claims))
        if not query.identity:  # a question naming nobody matches nobody, never everyone
            return None
        found = [
            RegisterRecord(subject, dict(record))
            for subject, records in read.register.items()
            if (record := records.get(query.configuration_id)) is not None
            and all(record.get(name) == value for name, value in query.identity)
        ]
        if len(found) > 1:
            raise SeveralInRegister(f"{len(found)} register entries match")
        return found[0] if found else None
