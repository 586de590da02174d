"""The deployment as its citizens' wallet provider: the key that signs the wallet
instances' attestations (owner ``wallet-provider`` on the key provider), certified under
the wallet-provider CA (``app.bootstrap``), so that issuers which trust the CA accept
what it signs. Agencies of this deployment always trust it."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy.exc import SQLAlchemyError

from app.access_certificates import ensure_access_certificate
from app.deployment import Deployment
from core.keys.unavailable import KeyStoreUnavailable
from core.keys.x509 import AccessCertificateRequest
from wallet.services.wallet_provider import WalletProvider

OWNER = "wallet-provider"
WALLET_NAME = "idwallet"
log = logging.getLogger("idwallet.keys")


def wallet_identifier(public_base_url: str) -> str:
    """This wallet's identifier: every instance's ``client_id``, and the provider's."""
    return f"{public_base_url}/wallet"


def _organization(ca: x509.Certificate) -> str | None:
    names = ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(names[0].value) if names else None


async def load_wallet_provider(deployment: Deployment) -> WalletProvider | None:
    """The provider with a current certificate, or None where this deployment has no
    wallet-provider CA (or cannot reach its key store yet: asked again later)."""
    ca = deployment.wallet_provider_ca
    if ca is None:
        return None
    base = deployment.settings.public_base_url
    identifier = wallet_identifier(base)
    host = urlsplit(base).hostname
    request = AccessCertificateRequest(
        common_name=f"{WALLET_NAME} wallet provider",
        organization=_organization(ca.certificate),
        dns_names=(host,) if host else (),
        uris=(identifier,),
    )
    try:
        signer = await ensure_access_certificate(deployment, OWNER, request, authority=ca)
    except (SQLAlchemyError, OSError, KeyStoreUnavailable) as exc:
        log.warning("wallet provider key not loaded yet: %s", type(exc).__name__)
        return None
    return WalletProvider(
        signer=signer,
        ca=ca.certificate,
        identifier=identifier,
        name=WALLET_NAME,
        link=f"{base}/",
        hsm_key_storage=deployment.settings.key_store.hsm_key_storage,
    )
