"""The register settings (``IDWALLET_REGISTER_*``): the connector, the URLs per agency,
the TLS files, and what start-up refuses."""

from __future__ import annotations

import pytest

from app.register_settings import RegisterSettingsError, check_agencies, register_settings
from app.register_wiring import describe_connector
from app.settings import Settings, SettingsError


def test_the_file_connector_is_the_default() -> None:
    settings = Settings.from_env({})
    assert settings.register.connector == "file"
    assert "IDWALLET_REGISTER_CONNECTOR=file" in describe_connector(settings)
    check_agencies(settings.register, ["civil-registry"])  # nothing to check


def test_urls_for_every_agency_and_for_one() -> None:
    settings = Settings.from_env(
        {
            "IDWALLET_REGISTER_CONNECTOR": "http",
            "IDWALLET_REGISTER_URL": "http://127.0.0.1:8100/",
            "IDWALLET_REGISTER_URL_TRANSPORT_AGENCY": "https://licences.example.gov",
        }
    )
    registers = settings.register
    assert registers.url_for("civil-registry") == "http://127.0.0.1:8100"
    assert registers.url_for("transport-agency") == "https://licences.example.gov"
    check_agencies(registers, ["civil-registry", "transport-agency"])
    line = describe_connector(settings)
    assert "http://127.0.0.1:8100" in line and "https://licences.example.gov" in line


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IDWALLET_REGISTER_CONNECTOR": "ldap"}, "file or http"),
        ({"IDWALLET_REGISTER_URL": "ftp://register"}, "http(s) URL"),
        ({"IDWALLET_REGISTER_URL": "http://r.example/?q=1"}, "without a query"),
        ({"IDWALLET_REGISTER_TLS_CLIENT_CERT": "client.pem"}, "go together"),
    ],
)
def test_settings_that_stop_start_up(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(env)


def test_production_reads_registers_over_https_only() -> None:
    with pytest.raises(RegisterSettingsError, match="https in production"):
        register_settings({"IDWALLET_REGISTER_URL": "http://r.example"}, production=True)
    assert register_settings({"IDWALLET_REGISTER_URL": "https://r.example"}, production=True).url


def test_the_http_connector_needs_a_url_for_every_agency() -> None:
    registers = register_settings(
        {"IDWALLET_REGISTER_CONNECTOR": "http", "IDWALLET_REGISTER_URL_CIVIL_REGISTRY": "http://r"},
        production=False,
    )
    with pytest.raises(RegisterSettingsError, match="IDWALLET_REGISTER_URL_TRANSPORT_AGENCY"):
        check_agencies(registers, ["civil-registry", "transport-agency"])


def test_unreadable_tls_files_are_named() -> None:
    registers = register_settings(
        {"IDWALLET_REGISTER_TLS_CA": "/nonexistent/ca.pem"}, production=False
    )
    with pytest.raises(RegisterSettingsError, match="register TLS files"):
        registers.tls_context()
