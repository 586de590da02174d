from pathlib import Path

import pytest

from app.settings import Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.port == 8000
    assert settings.host == "127.0.0.1"
    assert settings.public_base_url == "http://127.0.0.1:8000"
    assert settings.database_url == f"sqlite+aiosqlite:///{Path('var') / 'idwallet.db'}"
    assert settings.environment == "development"


def test_environment_overrides() -> None:
    settings = Settings.from_env(
        {
            "IDWALLET_PORT": "9000",
            "IDWALLET_WORKERS": "4",
            "IDWALLET_DATABASE_URL": "postgresql+asyncpg://u@db/idwallet",
            "IDWALLET_PUBLIC_BASE_URL": "https://id.example.gov/",
            "IDWALLET_ISSUED_AT_PRECISION": "3600",
            "IDWALLET_WALLET_REDIRECT_SCHEMES": "EU.Example.App, eu.example.other",
        }
    )
    assert settings.wallet_redirect_schemes == ("eu.example.app", "eu.example.other")
    assert settings.issued_at_precision == 3600
    assert settings.port == 9000
    assert settings.workers == 4
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.public_base_url == "https://id.example.gov"


@pytest.mark.parametrize(
    "env",
    [
        {"IDWALLET_PORT": "eighty"},
        {"IDWALLET_PORT": "70000"},
        {"IDWALLET_ENVIRONMENT": "staging"},
        {"IDWALLET_PUBLIC_BASE_URL": "ftp://x"},
        {"IDWALLET_SIGNING_ALG": "HS256"},
        {"IDWALLET_ISSUED_AT_PRECISION": "0"},
        {"IDWALLET_WALLET_REDIRECT_SCHEMES": "eu.example.app,javascript"},
        {"IDWALLET_WALLET_REDIRECT_SCHEMES": "not a scheme"},
        {"IDWALLET_ENVIRONMENT": "production", "IDWALLET_PUBLIC_BASE_URL": "https://id.example"},
        {
            "IDWALLET_ENVIRONMENT": "production",
            "IDWALLET_PUBLIC_BASE_URL": "http://id.example",
            "IDWALLET_KEY_ENCRYPTION_KEY": "x",
        },
    ],
)
def test_invalid_values_name_the_variable(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="IDWALLET_"):
        Settings.from_env(env)


def test_fault_points_are_for_crash_tests_only() -> None:
    assert Settings.from_env({}).faults == ()
    armed = Settings.from_env({"IDWALLET_FAULT": "after_sign_before_commit"})
    assert armed.faults == ("after_sign_before_commit",)
    with pytest.raises(SettingsError, match="IDWALLET_FAULT names unknown fault points: nowhere"):
        Settings.from_env({"IDWALLET_FAULT": "nowhere"})
    production = {
        "IDWALLET_ENVIRONMENT": "production",
        "IDWALLET_PUBLIC_BASE_URL": "https://id.example",
        "IDWALLET_KEY_ENCRYPTION_KEY": "k" * 43,
        "IDWALLET_FAULT": "after_sign_before_commit",
    }
    with pytest.raises(SettingsError, match="IDWALLET_FAULT is for crash tests only"):
        Settings.from_env(production)
