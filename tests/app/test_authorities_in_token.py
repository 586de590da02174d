"""The deployment's own authorities (its trust anchor and its wallet-provider CA) with keys
in a PKCS#11 token (SoftHSM2): made there at a development deployment's first start, or
named by an operator with a PKCS#11 URI (RFC 7512) in production; access certificates and
the provider's certificate issued under them validate, and a URI that names nothing
usable stops start-up or fails closed."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from app.access_certificates import ensure_access_certificate
from app.bootstrap import ANCHOR_CERT_FILE, ANCHOR_KEY_FILE, PROVIDER_CA_KEY_FILE
from app.deployment import Deployment
from app.key_store_settings import KEY_CLASSES, KeyStoreSettings
from app.migrate import upgrade
from app.settings import Settings, SettingsError
from app.wallet_provider_keys import load_wallet_provider
from core.jose.jwk import jwk_thumbprint, public_jwk
from core.keys.pkcs11_token import Pkcs11Config, Pkcs11Token
from core.keys.pkcs11_vault import Pkcs11Signer, public_key_of_point
from core.keys.unavailable import KeyStoreUnavailable
from core.keys.x509 import AccessCertificateRequest, create_trust_anchor, validate_x5c
from tests.support.softhsm import SoftHsm

REQUEST = AccessCertificateRequest(
    common_name="Civil Registry", dns_names=("id.example.gov",), uris=("https://id.example.gov",)
)


@pytest.fixture
def var(tmp_path: Path) -> Path:
    """A ``var`` directory of its own with a migrated database (start-up makes the rest)."""
    path = tmp_path / "var"
    path.mkdir()
    upgrade(f"sqlite+aiosqlite:///{path / 'idwallet.db'}")
    return path


def _settings(var: Path, softhsm: SoftHsm, label: str, **extra: object) -> Settings:
    url = f"sqlite+aiosqlite:///{var / 'idwallet.db'}"
    stores = KeyStoreSettings(
        providers=dict.fromkeys(KEY_CLASSES, "pkcs11"),
        pkcs11_module=softhsm.module,
        pkcs11_token=label,
        pkcs11_pin=softhsm.pin,
    )
    return dataclasses.replace(Settings(var_dir=var, database_url=url, key_store=stores), **extra)  # type: ignore[arg-type]


async def test_development_makes_its_authorities_in_the_token(
    var: Path, softhsm: SoftHsm, hsm_token: str
) -> None:
    settings = _settings(var, softhsm, hsm_token)
    deployment = Deployment.open(settings)
    try:
        assert not (settings.var_dir / ANCHOR_KEY_FILE).exists()
        assert not (settings.var_dir / PROVIDER_CA_KEY_FILE).exists()
        anchor = deployment.trust_anchor.certificate
        signer = await ensure_access_certificate(deployment, "issuer:civil-registry", REQUEST)
        assert signer.x5c is not None
        validate_x5c(list(signer.x5c), [anchor], at=dt.datetime.now(dt.UTC))
        provider = await load_wallet_provider(deployment)
        assert provider is not None and provider.signer.x5c is not None
        ca = deployment.wallet_provider_ca
        assert ca is not None
        validate_x5c(list(provider.signer.x5c), [ca.certificate], at=dt.datetime.now(dt.UTC))
    finally:
        await deployment.close()
    again = Deployment.open(settings)  # a restart finds them in the token, makes nothing
    try:
        assert again.trust_anchor.certificate == anchor
        assert again.trust_anchor.signer is not None
        again.trust_anchor.signer.sign(b"still the anchor's key")
    finally:
        await again.close()


def _operator_made_anchor(token: Pkcs11Token, directory: Path) -> Path:
    """What an HSM administrator does: a key made in the token under a label of their own,
    and the anchor certificate of it."""
    key_id = token.new_key_id()
    point = token.generate_signing_key(key_id, "national anchor 2026", "P-256")
    jwk = public_jwk(public_key_of_point(point, "P-256"))
    signer = Pkcs11Signer(token, key_id, kid=jwk_thumbprint(jwk), alg="ES256", jwk=jwk)
    certificate = create_trust_anchor(
        signer, common_name="National trust anchor", now=dt.datetime.now(dt.UTC), country="DE"
    )
    path = directory / "anchor.pem"
    path.write_bytes(certificate.public_bytes(Encoding.PEM))
    return path


async def test_production_names_the_anchor_key_by_a_pkcs11_uri(
    var: Path, tmp_path: Path, softhsm: SoftHsm, hsm_token: str
) -> None:
    token = Pkcs11Token(Pkcs11Config(softhsm.module, hsm_token, pin=softhsm.pin))
    anchor_file = _operator_made_anchor(token, tmp_path)
    settings = _settings(
        var,
        softhsm,
        hsm_token,
        trust_anchor_cert=anchor_file,
        trust_anchor_key=Path(
            f"pkcs11:token={hsm_token};object=national%20anchor%202026;type=private"
        ),
    )
    deployment = Deployment.open(settings)
    try:
        assert not (settings.var_dir / ANCHOR_CERT_FILE).exists()  # nothing generated
        signer = await ensure_access_certificate(deployment, "issuer:civil-registry", REQUEST)
        assert signer.x5c is not None
        validate_x5c(
            list(signer.x5c), [deployment.trust_anchor.certificate], at=dt.datetime.now(dt.UTC)
        )
    finally:
        await deployment.close()

    for uri, message in (
        ("pkcs11:token=another;object=national%20anchor%202026", "another token"),
        ("pkcs11:object=x;pin-value=1234", "unsupported"),
        ("pkcs11:type=public;object=x", "private key"),
    ):
        with pytest.raises(SettingsError, match=message):
            Deployment.open(dataclasses.replace(settings, trust_anchor_key=Path(uri)))
    software = dataclasses.replace(
        settings,
        key_store=dataclasses.replace(
            settings.key_store, providers=dict.fromkeys(KEY_CLASSES, "software")
        ),
    )
    with pytest.raises(SettingsError, match="names a key in a token"):
        Deployment.open(software)

    missing = Deployment.open(
        dataclasses.replace(settings, trust_anchor_key=Path("pkcs11:object=no%20such%20key"))
    )
    try:
        with pytest.raises(KeyStoreUnavailable):  # fails closed at its first use
            await ensure_access_certificate(missing, "issuer:transport-agency", REQUEST)
    finally:
        await missing.close()
