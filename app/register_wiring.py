"""The agencies' register connector, as the settings say (``app.register_settings``):
the register files (development) or the register service over signed queries, every read
audited in the deployment's audit trail (``register.read``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from app.deployment import Deployment
from app.register_settings import RegisterSettingsError, check_agencies
from app.settings import Settings, SettingsError
from core.http.client import OutboundClient
from core.register_exchange import TrustedSigners
from issuers.domain import Agency
from issuers.ports import IssuerKeys, RegisterConnector
from issuers.registers.audited import AuditedRegister
from issuers.registers.file import FileRegister
from issuers.registers.http import HttpRegister, RegisterEndpoint


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@contextlib.asynccontextmanager
async def register_connector(
    settings: Settings, deployment: Deployment, agencies: dict[str, Agency], keys: IssuerKeys
) -> AsyncIterator[RegisterConnector]:
    """The connector for the issuer role's life (its outbound client closed after)."""
    registers = settings.register
    # which register an agency reads for which configuration: the catalog says
    # (``register_reads``), the agency's own by default
    if registers.connector == "file":
        yield AuditedRegister(FileRegister(agencies), deployment.audit_trail, agencies)
        return
    try:
        check_agencies(registers, agencies)
        pinned = registers.pinned()
        tls = registers.tls_context()
    except RegisterSettingsError as exc:
        raise SettingsError(str(exc)) from None
    endpoints = {
        issuer_id: RegisterEndpoint(url)
        for issuer_id in agencies
        if (url := registers.url_for(issuer_id)) is not None
    }
    outbound = OutboundClient(
        # the registers are configured by the operator: their exact host:port may be on
        # the agencies' private network
        exceptions=sorted({_origin(e.url) for e in endpoints.values()}),
        deadline=settings.outbound_deadline,
        min_rate=settings.outbound_min_rate,
        tls=tls,
    )
    http = HttpRegister(
        agencies=agencies,
        endpoints=endpoints,
        keys=keys,
        outbound=outbound,
        trusted=TrustedSigners((deployment.trust_anchor.certificate,), pinned),
    )
    try:
        yield AuditedRegister(http, deployment.audit_trail, agencies)
    finally:
        await outbound.close()


def describe_connector(settings: Settings) -> str:
    """The start-up line: which register connector the agencies use."""
    registers = settings.register
    if registers.connector == "file":
        return "files in issuers/catalog/registers (IDWALLET_REGISTER_CONNECTOR=file)"
    urls = sorted({u for u in (registers.url, *registers.agency_urls.values()) if u})
    tls = ", mutual TLS" if registers.tls_client_cert is not None else ""
    return f"register service {', '.join(urls) or '(no URL)'} (signed queries{tls})"
