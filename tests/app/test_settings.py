import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from app.settings import Settings, SettingsError
from core.keys.signer import SoftwareSigner
from core.keys.x509 import AccessCertificateRequest, create_trust_anchor, issue_access_certificate


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
        {"IDWALLET_EID_OIDC_ISSUER": "https://eid.example"},  # no client
        {
            "IDWALLET_EID_OIDC_ISSUER": "https://eid.example",
            "IDWALLET_EID_OIDC_CLIENT_ID": "idwallet",
        },  # neither secret nor key
        {
            "IDWALLET_EID_OIDC_ISSUER": "https://eid.example",
            "IDWALLET_EID_OIDC_CLIENT_ID": "idwallet",
            "IDWALLET_EID_OIDC_CLIENT_SECRET": "s",
            "IDWALLET_EID_OIDC_CLIENT_KEY": "/k.pem",
        },  # both
        {
            "IDWALLET_EID_OIDC_ISSUER": "ftp://eid.example",
            "IDWALLET_EID_OIDC_CLIENT_ID": "idwallet",
            "IDWALLET_EID_OIDC_CLIENT_SECRET": "s",
        },
        {"IDWALLET_EID_OIDC_SCOPE": "profile"},  # without openid
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


def _root_pem(name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    root = create_trust_anchor(SoftwareSigner(key), common_name=name, now=dt.datetime.now(dt.UTC))
    return root.public_bytes(Encoding.PEM)


def test_wallet_provider_anchors_are_read_from_pem_files(tmp_path: Path) -> None:
    assert Settings.from_env({}).wallet_provider_anchors == ()
    first, second = tmp_path / "provider-a.pem", tmp_path / "providers-b.pem"
    first.write_bytes(_root_pem("Provider A Root"))
    second.write_bytes(_root_pem("Provider B Root") + _root_pem("Provider C Root"))
    settings = Settings.from_env({"IDWALLET_WALLET_PROVIDER_ANCHORS": f"{first}, {second}"})
    names = [a.subject.rfc4514_string() for a in settings.wallet_provider_anchors]
    assert names == ["CN=Provider A Root", "CN=Provider B Root", "CN=Provider C Root"]


def test_wallet_provider_anchors_must_be_readable_ca_certificates(tmp_path: Path) -> None:
    variable = "IDWALLET_WALLET_PROVIDER_ANCHORS"
    with pytest.raises(SettingsError, match=f"cannot read {variable}"):
        Settings.from_env({variable: str(tmp_path / "missing.pem")})
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    with pytest.raises(SettingsError, match=f"cannot read {variable}"):
        Settings.from_env({variable: str(empty)})
    now = dt.datetime.now(dt.UTC)
    root_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    root = create_trust_anchor(SoftwareSigner(root_key), common_name="Root", now=now)
    leaf = issue_access_certificate(
        AccessCertificateRequest(common_name="Signer", uris=("https://provider.example",)),
        leaf_key.public_key(),
        anchor_signer=SoftwareSigner(root_key),
        anchor=root,
        now=now,
    )
    not_a_ca = tmp_path / "leaf.pem"
    not_a_ca.write_bytes(leaf.public_bytes(Encoding.PEM))
    with pytest.raises(SettingsError, match=f"{variable} .* not a CA: CN=Signer"):
        Settings.from_env({variable: str(not_a_ca)})


def test_the_eid_provider_is_configured_all_together() -> None:
    settings = Settings.from_env(
        {
            "IDWALLET_EID_OIDC_ISSUER": "https://eid.example.gov",
            "IDWALLET_EID_OIDC_CLIENT_ID": "idwallet",
            "IDWALLET_EID_OIDC_CLIENT_SECRET": "a secret",
            "IDWALLET_EID_OIDC_SCOPE": "openid  personal_number",
        }
    )
    assert settings.eid_oidc_issuer == "https://eid.example.gov"
    assert settings.eid_oidc_scope == "openid personal_number"
    assert "a secret" not in repr(settings)
    with pytest.raises(SettingsError, match="https"):
        Settings.from_env(
            {
                "IDWALLET_ENVIRONMENT": "production",
                "IDWALLET_PUBLIC_BASE_URL": "https://id.example",
                "IDWALLET_KEY_ENCRYPTION_KEY": "k" * 43,
                "IDWALLET_EID_OIDC_ISSUER": "http://eid.example.gov",
                "IDWALLET_EID_OIDC_CLIENT_ID": "idwallet",
                "IDWALLET_EID_OIDC_CLIENT_SECRET": "a secret",
            }
        )
