"""The authenticator of development and tests (``IDWALLET_TEST_CITIZEN``): whoever comes
to an agency's authorization endpoint is taken to be one subject of its register. The
settings refuse it in production; real deployments authenticate citizens at the national
eID provider."""

from __future__ import annotations

from dataclasses import dataclass

from issuers.domain import Agency, Authorization


@dataclass(frozen=True, slots=True)
class DeclaredCitizen:
    subject_id: str

    async def authenticate(self, agency: Agency, authorization: Authorization) -> str | None:
        return self.subject_id
