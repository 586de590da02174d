"""First-start material: the key-encryption key, the development trust anchor and the
development wallet-provider CA.

In development all three are generated into the git-ignored ``var/`` directory (file mode
0600, under a file lock so that several workers starting together agree). In production
the KEK comes from ``IDWALLET_KEY_ENCRYPTION_KEY``, the anchor from
``IDWALLET_TRUST_ANCHOR_CERT`` (and, where this deployment issues access certificates
itself, ``IDWALLET_TRUST_ANCHOR_KEY``), and the wallet-provider CA from
``IDWALLET_WALLET_PROVIDER_CA_CERT`` and ``IDWALLET_WALLET_PROVIDER_CA_KEY``; nothing is
generated. A production deployment without the wallet-provider CA attests none of its
wallet instances' keys (issuers that require key attestations then refuse its wallet).

The wallet-provider CA is a root of its own, apart from the deployment trust anchor:
issuers that trust it accept attestations signed under it, and nothing else this
deployment certifies (an agency's or counter's signing key) can sign one.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from app.settings import Settings, SettingsError
from core.encoding import EncodingError, b64url_decode, b64url_encode
from core.jose.algorithms import PrivateKey
from core.keys.signer import SoftwareSigner
from core.keys.wrapping import KEK_BYTES, KeyWrapper
from core.keys.x509 import create_trust_anchor

KEK_FILE = "key-encryption-key"
ANCHOR_CERT_FILE = "trust-anchor.pem"
ANCHOR_KEY_FILE = "trust-anchor.key.wrapped"
_ANCHOR_CONTEXT = "idwallet-trust-anchor"
PROVIDER_CA_CERT_FILE = "wallet-provider-ca.pem"
PROVIDER_CA_KEY_FILE = "wallet-provider-ca.key.wrapped"
_PROVIDER_CA_CONTEXT = "idwallet-wallet-provider-ca"


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    certificate: x509.Certificate
    private_key: PrivateKey | None  # None where access certificates are issued elsewhere

    def pem(self) -> str:
        return self.certificate.public_bytes(Encoding.PEM).decode("ascii")


@contextmanager
def locked_var_dir(var_dir: Path) -> Iterator[None]:
    var_dir.mkdir(parents=True, exist_ok=True)
    with open(var_dir / ".bootstrap.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_private_file(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _decode_kek(text: str, source: str) -> bytes:
    try:
        kek = b64url_decode(text.strip())
    except EncodingError:
        raise SettingsError(f"{source} must be base64url without padding") from None
    if len(kek) != KEK_BYTES:
        raise SettingsError(f"{source} must encode exactly {KEK_BYTES} bytes")
    return kek


def load_key_encryption_key(settings: Settings) -> bytes:
    if settings.key_encryption_key is not None:
        return _decode_kek(settings.key_encryption_key, "IDWALLET_KEY_ENCRYPTION_KEY")
    if settings.is_production:
        raise SettingsError("IDWALLET_KEY_ENCRYPTION_KEY is required in production")
    path = settings.var_dir / KEK_FILE
    with locked_var_dir(settings.var_dir):
        if not path.exists():
            write_private_file(path, (b64url_encode(os.urandom(KEK_BYTES)) + "\n").encode("ascii"))
    return _decode_kek(path.read_text(encoding="ascii"), str(path))


def _configured_authority(cert: Path, key: Path | None, variable: str) -> TrustAnchor:
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    private = None
    if key is not None:
        loaded = load_pem_private_key(key.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise SettingsError(f"{variable} must be an EC private key")
        private = loaded
    return TrustAnchor(certificate, private)


def _development_authority(
    settings: Settings, wrapper: KeyWrapper, files: tuple[str, str, str], name: str
) -> TrustAnchor:
    """A root CA generated at first start into ``var/``: ``files`` are its certificate
    file, its wrapped key file and the wrapping context."""
    cert_file, key_file, context = files
    cert_path, key_path = settings.var_dir / cert_file, settings.var_dir / key_file
    with locked_var_dir(settings.var_dir):
        if not cert_path.exists() or not key_path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            certificate = create_trust_anchor(
                SoftwareSigner(key),
                common_name=name,
                organization="idwallet (development)",
                now=dt.datetime.now(dt.UTC),
                country=settings.country,
            )
            write_private_file(key_path, wrapper.wrap(key, context=context))
            cert_path.write_bytes(certificate.public_bytes(Encoding.PEM))
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return TrustAnchor(certificate, wrapper.unwrap(key_path.read_bytes(), context=context))


def load_trust_anchor(settings: Settings, wrapper: KeyWrapper) -> TrustAnchor:
    if settings.trust_anchor_cert is not None:
        return _configured_authority(
            settings.trust_anchor_cert, settings.trust_anchor_key, "IDWALLET_TRUST_ANCHOR_KEY"
        )
    if settings.is_production:
        raise SettingsError("IDWALLET_TRUST_ANCHOR_CERT is required in production")
    return _development_authority(
        settings,
        wrapper,
        (ANCHOR_CERT_FILE, ANCHOR_KEY_FILE, _ANCHOR_CONTEXT),
        "idwallet development trust anchor",
    )


def load_wallet_provider_ca(settings: Settings, wrapper: KeyWrapper) -> TrustAnchor | None:
    """The CA of this deployment as wallet provider; None in a production deployment that
    configures none."""
    if settings.wallet_provider_ca_cert is not None:
        return _configured_authority(
            settings.wallet_provider_ca_cert,
            settings.wallet_provider_ca_key,
            "IDWALLET_WALLET_PROVIDER_CA_KEY",
        )
    if settings.is_production:
        return None
    return _development_authority(
        settings,
        wrapper,
        (PROVIDER_CA_CERT_FILE, PROVIDER_CA_KEY_FILE, _PROVIDER_CA_CONTEXT),
        "idwallet development wallet provider CA",
    )


def install_wallet_provider_ca(
    settings: Settings, wrapper: KeyWrapper, certificate: x509.Certificate, key: PrivateKey
) -> None:
    """Put a given CA where development start-up looks for the wallet-provider CA (test
    suites that hold the CA's key, to attest keys as this deployment's wallet would)."""
    with locked_var_dir(settings.var_dir):
        write_private_file(
            settings.var_dir / PROVIDER_CA_KEY_FILE, wrapper.wrap(key, context=_PROVIDER_CA_CONTEXT)
        )
        (settings.var_dir / PROVIDER_CA_CERT_FILE).write_bytes(
            certificate.public_bytes(Encoding.PEM)
        )
