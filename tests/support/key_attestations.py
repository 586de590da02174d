"""A throwaway wallet provider for the tests: its own root certificate, a signing key with
a certificate under it, and key attestations (OpenID4VCI 1.0 Appendix D.1) made to order."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from app.bootstrap import (
    PROVIDER_CA_CERT_FILE,
    install_wallet_provider_ca,
    load_key_encryption_key,
)
from app.settings import Settings
from core.jose.jws import sign_compact
from core.key_attestation import KEY_ATTESTATION_TYP
from core.keys.signer import SoftwareSigner
from core.keys.wrapping import KeyWrapper
from core.keys.x509 import (
    AccessCertificateRequest,
    create_trust_anchor,
    issue_access_certificate,
    to_x5c,
)

#: Leave ``exp`` out of an attestation.
NO_EXP = -1


@dataclass(frozen=True)
class WalletProvider:
    anchor_key: ec.EllipticCurvePrivateKey
    anchor: x509.Certificate
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    signer: SoftwareSigner

    @classmethod
    def create(
        cls, name: str = "Test Wallet Provider", *, now: float | None = None
    ) -> WalletProvider:
        at = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC)
        anchor_key = ec.generate_private_key(ec.SECP256R1())
        anchor = create_trust_anchor(SoftwareSigner(anchor_key), common_name=f"{name} Root", now=at)
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = issue_access_certificate(
            AccessCertificateRequest(common_name=name, uris=("https://wallet-provider.example",)),
            key.public_key(),
            anchor_signer=SoftwareSigner(anchor_key),
            anchor=anchor,
            now=at,
        )
        signer = SoftwareSigner(key, x5c=to_x5c([certificate]))
        return cls(anchor_key, anchor, certificate, key, signer)

    def attest(
        self,
        keys: Sequence[Mapping[str, Any]],
        *,
        nonce: str | None = None,
        iat: float | None = None,
        exp: float | None = None,
        key_storage: Sequence[str] | None = ("iso_18045_high",),
        user_authentication: Sequence[str] | None = ("iso_18045_moderate",),
        payload: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
        typ: str = KEY_ATTESTATION_TYP,
        signer: SoftwareSigner | None = None,
    ) -> str:
        """An attestation of ``keys`` (public JWKs), issued now unless ``iat`` says otherwise,
        expiring an hour after ``iat`` unless ``exp`` says otherwise (``NO_EXP``: no exp)."""
        issued_at = int(time.time() if iat is None else iat)
        claims: dict[str, Any] = {
            "iss": "https://wallet-provider.example",
            "iat": issued_at,
            "attested_keys": [dict(key) for key in keys],
        }
        if exp is None:
            claims["exp"] = issued_at + 3600
        elif exp != NO_EXP:
            claims["exp"] = int(exp)
        if key_storage is not None:
            claims["key_storage"] = list(key_storage)
        if user_authentication is not None:
            claims["user_authentication"] = list(user_authentication)
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(payload or {})
        return sign_compact(
            claims,
            signer or self.signer,
            typ=typ,
            header=dict(header) if header else None,
            include_kid=False,
            include_x5c=True,
        )


_DEPLOYMENT_PROVIDER: list[WalletProvider] = []
_DEPLOYMENT_PROVIDER_LOCK = threading.Lock()


def deployment_provider() -> WalletProvider:
    """The wallet provider of every test deployment (one per test process, also when
    servers start in several threads at once): its CA is put in each test's ``var``
    directory as the deployment's wallet-provider CA, which every agency trusts, so the
    tests' wallets attest keys as this deployment's wallet does."""
    with _DEPLOYMENT_PROVIDER_LOCK:
        if not _DEPLOYMENT_PROVIDER:
            _DEPLOYMENT_PROVIDER.append(WalletProvider.create("idwallet test wallet provider"))
        return _DEPLOYMENT_PROVIDER[0]


def seed_wallet_provider(var_dir: Path) -> None:
    """Make ``deployment_provider()``'s CA the wallet-provider CA of a deployment started
    on ``var_dir`` (also where a first start, ``idwallet migrate`` say, made its own: the
    provider's key is then certified again under this one)."""
    provider = deployment_provider()
    installed = var_dir / PROVIDER_CA_CERT_FILE
    if installed.exists() and installed.read_bytes() == provider.anchor.public_bytes(Encoding.PEM):
        return
    settings = Settings(var_dir=var_dir)
    wrapper = KeyWrapper(load_key_encryption_key(settings))
    install_wallet_provider_ca(settings, wrapper, provider.anchor, provider.anchor_key)
