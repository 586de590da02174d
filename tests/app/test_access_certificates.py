"""Access certificates for owners' keys: issued under the deployment anchor, reused while
current, renewed after rotation or when the names change; validated like a stranger would."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from app.access_certificates import CannotCertify, ensure_access_certificate
from app.deployment import Deployment
from app.migrate import upgrade
from app.settings import Settings
from core.keys.x509 import AccessCertificateRequest, san_uris, validate_x5c

ISSUER = AccessCertificateRequest(
    common_name="Civil Registry",
    dns_names=("id.example.gov",),
    uris=("https://id.example.gov/issuers/civil-registry",),
)


@pytest.fixture
def settings(var_dir: Path) -> Settings:
    url = f"sqlite+aiosqlite:///{var_dir / 'idwallet.db'}"
    upgrade(url)
    return Settings(var_dir=var_dir, database_url=url)


async def test_certificate_is_issued_reused_and_renewed(settings: Settings) -> None:
    deployment = Deployment.open(settings)
    try:
        signer = await ensure_access_certificate(deployment, "issuer:civil-registry", ISSUER)
        assert signer.x5c
        leaf = validate_x5c(
            list(signer.x5c), [deployment.trust_anchor.certificate], at=dt.datetime.now(dt.UTC)
        )
        assert san_uris(leaf) == list(ISSUER.uris)
        again = await ensure_access_certificate(deployment, "issuer:civil-registry", ISSUER)
        assert again.x5c == signer.x5c
        renamed = AccessCertificateRequest(
            common_name="Civil Registry", uris=("https://id.example.gov/issuers/cr2",)
        )
        assert (
            await ensure_access_certificate(deployment, "issuer:civil-registry", renamed)
        ).x5c != signer.x5c
        rotated = await deployment.keys.rotate("issuer:civil-registry")
        assert not rotated.x5c
        recertified = await ensure_access_certificate(deployment, "issuer:civil-registry", ISSUER)
        assert recertified.kid == rotated.kid and recertified.x5c
        late = dt.datetime.now(dt.UTC) + dt.timedelta(days=340)
        renewed = await ensure_access_certificate(
            deployment, "issuer:civil-registry", ISSUER, now=late
        )
        assert renewed.x5c != recertified.x5c
    finally:
        await deployment.close()


async def test_without_the_anchor_key_nothing_is_certified(
    settings: Settings, var_dir: Path
) -> None:
    first = Deployment.open(settings)
    await first.close()
    anchor_only = Settings(
        var_dir=var_dir,
        database_url=settings.database_url,
        trust_anchor_cert=var_dir / "trust-anchor.pem",
    )
    deployment = Deployment.open(anchor_only)
    try:
        with pytest.raises(CannotCertify):
            await ensure_access_certificate(deployment, "verifier:bank-kyc", ISSUER)
    finally:
        await deployment.close()


async def test_a_key_another_worker_rotated_in_meanwhile_is_certified_too(
    settings: Settings,
) -> None:
    """Another worker rotates the owner's key while this one certifies; whichever key is
    active afterwards comes back certified, whoever asks."""
    deployment = Deployment.open(settings)
    try:
        keys = deployment.keys
        first = await keys.signer("verifier:city-hall-counter")
        original_signer = keys.signer
        calls = 0

        async def signer_while_another_worker_creates(owner: str) -> Any:
            nonlocal calls
            calls += 1
            if calls == 2:  # between this worker's certification and its re-read
                await keys.rotate(owner)
            return await original_signer(owner)

        keys.signer = signer_while_another_worker_creates  # type: ignore[method-assign]
        signer = await ensure_access_certificate(deployment, "verifier:city-hall-counter", ISSUER)
        assert signer.kid != first.kid and signer.x5c
        validate_x5c(
            list(signer.x5c), [deployment.trust_anchor.certificate], at=dt.datetime.now(dt.UTC)
        )
    finally:
        await deployment.close()
