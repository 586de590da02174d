"""How the agencies read their registers (``IDWALLET_REGISTER_*``):

- ``IDWALLET_REGISTER_CONNECTOR``: ``file`` (the default: the register files beside the
  catalog, for development and tests) or ``http`` (the register service, signed queries);
- ``IDWALLET_REGISTER_URL``: the register service's base URL for every agency, and
  ``IDWALLET_REGISTER_URL_<AGENCY>`` for one agency (its ``issuer_id`` in upper case, ``-``
  as ``_``: ``IDWALLET_REGISTER_URL_TRANSPORT_AGENCY``); https in production;
- ``IDWALLET_REGISTER_CERT``: a PEM file of register certificates accepted as they are
  (pinned), besides any certificate under the deployment trust anchor;
- ``IDWALLET_REGISTER_TLS_CLIENT_CERT`` with ``IDWALLET_REGISTER_TLS_CLIENT_KEY`` (PEM
  files: mutual TLS, the agency side's client certificate) and ``IDWALLET_REGISTER_TLS_CA``
  (the CA certificates the register's TLS certificate must chain to).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509

PREFIX = "IDWALLET_REGISTER_"


class RegisterSettingsError(ValueError):
    """A register setting that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class RegisterSettings:
    connector: str = "file"
    url: str | None = None
    #: ``issuer_id`` → the register service's base URL for that agency.
    agency_urls: Mapping[str, str] = field(default_factory=dict)
    pinned_cert: Path | None = None
    tls_client_cert: Path | None = None
    tls_client_key: Path | None = None
    tls_ca: Path | None = None

    def url_for(self, issuer_id: str) -> str | None:
        return self.agency_urls.get(issuer_id, self.url)

    def pinned(self) -> tuple[x509.Certificate, ...]:
        if self.pinned_cert is None:
            return ()
        try:
            return tuple(x509.load_pem_x509_certificates(self.pinned_cert.read_bytes()))
        except (OSError, ValueError) as exc:
            raise RegisterSettingsError(f"cannot read {PREFIX}CERT: {exc}") from exc

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context of the queries: the register's CA and the client certificate
        (mutual TLS); None where neither is configured (the system's CAs)."""
        if self.tls_client_cert is None and self.tls_ca is None:
            return None
        try:
            context = ssl.create_default_context(
                cafile=None if self.tls_ca is None else str(self.tls_ca)
            )
            if self.tls_client_cert is not None:
                context.load_cert_chain(
                    str(self.tls_client_cert),
                    None if self.tls_client_key is None else str(self.tls_client_key),
                )
        except (OSError, ssl.SSLError) as exc:
            raise RegisterSettingsError(f"cannot read the register TLS files: {exc}") from exc
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context


def _url(value: str, name: str, production: bool) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query:
        raise RegisterSettingsError(f"{name} must be an http(s) URL without a query")
    if production and parts.scheme != "https":
        raise RegisterSettingsError(f"{name} must be https in production")
    return value.rstrip("/")


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(PREFIX + name) or None
    return Path(value) if value else None


def agency_variable(issuer_id: str) -> str:
    return f"{PREFIX}URL_{issuer_id.upper().replace('-', '_')}"


def register_settings(env: Mapping[str, str], *, production: bool) -> RegisterSettings:
    connector = env.get(PREFIX + "CONNECTOR") or "file"
    if connector not in ("file", "http"):
        raise RegisterSettingsError(f"{PREFIX}CONNECTOR must be file or http")
    url = env.get(PREFIX + "URL") or None
    agency_urls = {
        name[len(PREFIX + "URL_") :].lower().replace("_", "-"): _url(value, name, production)
        for name, value in env.items()
        if name.startswith(PREFIX + "URL_") and value
    }
    settings = RegisterSettings(
        connector=connector,
        url=None if url is None else _url(url, PREFIX + "URL", production),
        agency_urls=agency_urls,
        pinned_cert=_path(env, "CERT"),
        tls_client_cert=_path(env, "TLS_CLIENT_CERT"),
        tls_client_key=_path(env, "TLS_CLIENT_KEY"),
        tls_ca=_path(env, "TLS_CA"),
    )
    if (settings.tls_client_cert is None) != (settings.tls_client_key is None):
        raise RegisterSettingsError(
            f"{PREFIX}TLS_CLIENT_CERT and {PREFIX}TLS_CLIENT_KEY go together"
        )
    return settings


def check_agencies(settings: RegisterSettings, issuer_ids: Iterable[str]) -> None:
    """With the http connector, every agency needs a register URL."""
    if settings.connector != "http":
        return
    missing = [i for i in issuer_ids if settings.url_for(i) is None]
    if missing:
        raise RegisterSettingsError(
            f"{PREFIX}CONNECTOR=http needs {PREFIX}URL or "
            + ", ".join(agency_variable(i) for i in missing)
        )
