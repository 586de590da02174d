"""The roles' keys on the deployment's key provider: every agency and every relying party
has its own signing key with an access certificate under the trust anchor, and every agency
its own key for encrypted credential requests. A signer is remembered per process while it
is the owner's active key (checked on every use), its certificate for a minute."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError

from app.access_certificates import ensure_access_certificate
from app.deployment import Deployment
from core.keys.decrypter import Decrypter
from core.keys.signer import Signer
from core.keys.unavailable import KeyStoreUnavailable
from core.keys.x509 import AccessCertificateRequest
from issuers.domain import Agency
from verifiers.domain import RelyingParty

SIGNER_CACHE_SECONDS = 60.0
log = logging.getLogger("idwallet.keys")


def _certificate_request(
    names: tuple[str, ...],
    organization: str,
    public_base_url: str,
    identifier: str,
    country: str | None = None,
) -> AccessCertificateRequest:
    host = urlsplit(public_base_url).hostname
    return AccessCertificateRequest(
        common_name=names[0],
        organization=organization,
        dns_names=(host,) if host else (),
        uris=(identifier,),
        country=country,
    )


class DeploymentTenantKeys:
    """``signer(tenant_id)`` and ``jwks(tenant_id)`` for one role's tenants, and
    ``decrypter(tenant_id)`` for those given a decryption key's owner."""

    def __init__(
        self,
        deployment: Deployment,
        tenants: dict[str, tuple[str, AccessCertificateRequest]],
        decryption_owners: Mapping[str, str] | None = None,
    ) -> None:
        self._deployment = deployment
        self._tenants = tenants  # tenant id → (key owner, certificate request)
        self._signers: dict[str, tuple[float, Signer]] = {}
        self._decryption_owners = dict(decryption_owners or {})
        self._decrypters: dict[str, tuple[float, Decrypter]] = {}

    async def certify_all(self) -> None:
        """At start-up: every tenant gets a current access certificate. A deployment that
        cannot certify at all stops here; one whose database or key store is not reachable
        yet starts anyway (not ready) and certifies on first use."""
        for tenant_id in self._tenants:
            try:
                await self.signer(tenant_id, fresh=True)
            except (SQLAlchemyError, OSError, KeyStoreUnavailable) as exc:
                log.warning("access certificates not checked at start-up: %s", type(exc).__name__)
                return

    async def signer(self, tenant_id: str, *, fresh: bool = False) -> Signer:
        """The tenant's active signer. Which key is active is read on every call (one row),
        so that once a rotation is stored no worker signs with the retired key; the key's
        certificate is checked again after a minute."""
        owner, request = self._tenants[tenant_id]
        cached = self._signers.get(tenant_id)
        now = time.monotonic()
        if cached is not None and not fresh and now - cached[0] < SIGNER_CACHE_SECONDS:
            active = await self._deployment.keys.active_record(owner)
            if active is not None and active.kid == cached[1].kid:
                return cached[1]
        signer = await ensure_access_certificate(self._deployment, owner, request)
        self._signers[tenant_id] = (now, signer)
        return signer

    async def jwks(self, tenant_id: str) -> list[dict[str, str]]:
        return await self._deployment.keys.public_jwks(self._tenants[tenant_id][0])

    async def decrypter(self, tenant_id: str, *, fresh: bool = False) -> Decrypter:
        cached = self._decrypters.get(tenant_id)
        now = time.monotonic()
        if cached is not None and not fresh and now - cached[0] < SIGNER_CACHE_SECONDS:
            return cached[1]
        decrypter = await self._deployment.keys.decrypter(self._decryption_owners[tenant_id])
        self._decrypters[tenant_id] = (now, decrypter)
        return decrypter


def issuer_keys(deployment: Deployment, agencies: dict[str, Agency]) -> DeploymentTenantKeys:
    base = deployment.settings.public_base_url
    return DeploymentTenantKeys(
        deployment,
        {
            issuer_id: (
                agency.key_owner,
                _certificate_request(
                    _english_first(tuple((d.locale, d.name) for d in agency.display)),
                    agency.organization,
                    base,
                    agency.identifier(base),
                    deployment.settings.country,
                ),
            )
            for issuer_id, agency in agencies.items()
        },
        {issuer_id: agency.request_key_owner for issuer_id, agency in agencies.items()},
    )


def verifier_keys(deployment: Deployment, parties: dict[str, RelyingParty]) -> DeploymentTenantKeys:
    base = deployment.settings.public_base_url
    return DeploymentTenantKeys(
        deployment,
        {
            verifier_id: (
                party.key_owner,
                _certificate_request(
                    _english_first(tuple((d.locale, d.text) for d in party.display)),
                    party.organization,
                    base,
                    f"{base}/verifiers/{verifier_id}",
                ),
            )
            for verifier_id, party in parties.items()
        },
    )


def _english_first(names: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    english = [name for locale, name in names if locale.split("-")[0] == "en"]
    return tuple(english) + tuple(name for _, name in names)
