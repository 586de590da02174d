"""The deployment as wallet provider: its CA (generated in development, configured in
production, absent where production configures none), the provider's signing key
certified under it and re-certified when the CA is replaced, and agencies that always
trust it beside ``IDWALLET_WALLET_PROVIDER_ANCHORS``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from app.bootstrap import PROVIDER_CA_CERT_FILE, load_wallet_provider_ca
from app.deployment import Deployment
from app.issuer_wiring import wallet_provider_anchors
from app.migrate import upgrade
from app.settings import Settings, SettingsError
from app.wallet_provider_keys import load_wallet_provider
from core.keys.signer import SoftwareSigner
from core.keys.wrapping import KeyWrapper
from core.keys.x509 import create_trust_anchor, san_uris, validate_x5c
from tests.support.key_attestations import WalletProvider


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A ``var`` directory of its own (not the tests' seeded one): start-up makes the CA."""
    var = tmp_path / "fresh-var"
    var.mkdir()
    url = f"sqlite+aiosqlite:///{var / 'idwallet.db'}"
    upgrade(url)
    return Settings(var_dir=var, database_url=url)


def _now() -> dt.datetime:
    """Now, when the test runs (not when the module was collected, minutes earlier)."""
    return dt.datetime.now(dt.UTC)


def _pem_files(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    ca = create_trust_anchor(
        SoftwareSigner(key), common_name="Agency Wallet Provider CA", now=_now()
    )
    cert_file, key_file = tmp_path / "provider-ca.pem", tmp_path / "provider-ca.key"
    cert_file.write_bytes(ca.public_bytes(Encoding.PEM))
    key_file.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return cert_file, key_file


async def test_development_generates_a_ca_of_its_own_once(settings: Settings) -> None:
    deployment = Deployment.open(settings)
    try:
        ca = deployment.wallet_provider_ca
        assert ca is not None and ca.signer is not None
        # a root of its own: nothing else the deployment certifies chains to it
        assert ca.certificate != deployment.trust_anchor.certificate
        assert (settings.var_dir / PROVIDER_CA_CERT_FILE).exists()
        again = load_wallet_provider_ca(settings, KeyWrapper(deployment.key_encryption_key))
        assert again is not None and again.certificate == ca.certificate
        provider = await load_wallet_provider(deployment)
        assert provider is not None and provider.signer.x5c
        leaf = validate_x5c(list(provider.signer.x5c), [ca.certificate], at=_now())
        assert san_uris(leaf) == [f"{settings.public_base_url}/wallet"]
        # the agencies trust it, beside the configured anchors
        other = WalletProvider.create("Other Wallet Provider")
        with_other = Settings(var_dir=settings.var_dir, wallet_provider_anchors=(other.anchor,))
        assert wallet_provider_anchors(with_other, deployment) == (other.anchor, ca.certificate)
    finally:
        await deployment.close()


async def test_a_replaced_ca_gets_the_provider_key_certified_again(
    settings: Settings, tmp_path: Path
) -> None:
    deployment = Deployment.open(settings)
    try:
        first = await load_wallet_provider(deployment)
        assert first is not None
    finally:
        await deployment.close()
    cert_file, key_file = _pem_files(tmp_path)
    configured = Settings(
        var_dir=settings.var_dir,
        database_url=settings.database_url,
        wallet_provider_ca_cert=cert_file,
        wallet_provider_ca_key=key_file,
    )
    deployment = Deployment.open(configured)
    try:
        ca = deployment.wallet_provider_ca
        assert ca is not None and ca.certificate.subject.rfc4514_string().endswith(
            "Agency Wallet Provider CA"
        )
        second = await load_wallet_provider(deployment)
        assert second is not None and second.signer.x5c != first.signer.x5c
        validate_x5c(list(second.signer.x5c or ()), [ca.certificate], at=_now())
    finally:
        await deployment.close()


def test_production_uses_the_configured_ca_or_none(tmp_path: Path) -> None:
    wrapper = KeyWrapper(b"k" * 32)
    production = Settings(environment="production", var_dir=tmp_path)
    assert load_wallet_provider_ca(production, wrapper) is None
    assert not (tmp_path / PROVIDER_CA_CERT_FILE).exists()  # nothing generated
    cert_file, key_file = _pem_files(tmp_path)
    env = {
        "IDWALLET_WALLET_PROVIDER_CA_CERT": str(cert_file),
        "IDWALLET_WALLET_PROVIDER_CA_KEY": str(key_file),
    }
    configured = Settings.from_env(env)
    ca = load_wallet_provider_ca(configured, wrapper)
    assert ca is not None and ca.signer is not None


@pytest.mark.parametrize(
    "alone", ["IDWALLET_WALLET_PROVIDER_CA_CERT", "IDWALLET_WALLET_PROVIDER_CA_KEY"]
)
def test_the_ca_certificate_and_key_go_together(alone: str) -> None:
    with pytest.raises(SettingsError, match="go together"):
        Settings.from_env({alone: "/nowhere.pem"})
