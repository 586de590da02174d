"""The issuer role's ``IssuerKeys`` port on the deployment's key provider: each agency's
key certified under the trust anchor, remembered for a minute per process."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError

from app.access_certificates import ensure_access_certificate
from app.deployment import Deployment
from core.keys.signer import Signer
from core.keys.x509 import AccessCertificateRequest
from issuers.domain import Agency

SIGNER_CACHE_SECONDS = 60.0
log = logging.getLogger("idwallet.issuers")


def access_certificate_request(agency: Agency, public_base_url: str) -> AccessCertificateRequest:
    english = next((d for d in agency.display if d.locale.split("-")[0] == "en"), agency.display[0])
    host = urlsplit(public_base_url).hostname
    return AccessCertificateRequest(
        common_name=english.name,
        organization=agency.organization,
        dns_names=(host,) if host else (),
        uris=(agency.identifier(public_base_url),),
    )


class DeploymentIssuerKeys:
    def __init__(self, deployment: Deployment, agencies: dict[str, Agency]) -> None:
        self._deployment = deployment
        self._agencies = agencies
        self._signers: dict[str, tuple[float, Signer]] = {}

    async def certify_all(self) -> None:
        """At start-up: every agency gets a current access certificate. A deployment that
        cannot certify at all stops here; one whose database is not reachable yet starts
        anyway (not ready) and certifies on first use."""
        for issuer_id in self._agencies:
            try:
                await self.signer(issuer_id, fresh=True)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("access certificates not checked at start-up: %s", type(exc).__name__)
                return

    async def signer(self, issuer_id: str, *, fresh: bool = False) -> Signer:
        cached = self._signers.get(issuer_id)
        now = time.monotonic()
        if cached is not None and not fresh and now - cached[0] < SIGNER_CACHE_SECONDS:
            return cached[1]
        agency = self._agencies[issuer_id]
        request = access_certificate_request(agency, self._deployment.settings.public_base_url)
        signer = await ensure_access_certificate(self._deployment, agency.key_owner, request)
        self._signers[issuer_id] = (now, signer)
        return signer

    async def jwks(self, issuer_id: str) -> list[dict[str, str]]:
        return await self._deployment.keys.public_jwks(self._agencies[issuer_id].key_owner)
