"""First-start material: the key-encryption key and the development trust anchor.

In development both are generated into the git-ignored ``var/`` directory (file mode 0600,
under a file lock so that several workers starting together agree). In production the
KEK comes from ``IDWALLET_KEY_ENCRYPTION_KEY`` and the anchor from
``IDWALLET_TRUST_ANCHOR_CERT`` (and, where this deployment issues access certificates
itself, ``IDWALLET_TRUST_ANCHOR_KEY``); nothing is generated.
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
from core.keys.wrapping import KEK_BYTES, KeyWrapper
from core.keys.x509 import create_trust_anchor

KEK_FILE = "key-encryption-key"
ANCHOR_CERT_FILE = "trust-anchor.pem"
ANCHOR_KEY_FILE = "trust-anchor.key.wrapped"
_ANCHOR_CONTEXT = "idwallet-trust-anchor"


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


def load_trust_anchor(settings: Settings, wrapper: KeyWrapper) -> TrustAnchor:
    if settings.trust_anchor_cert is not None:
        certificate = x509.load_pem_x509_certificate(settings.trust_anchor_cert.read_bytes())
        key = None
        if settings.trust_anchor_key is not None:
            loaded = load_pem_private_key(settings.trust_anchor_key.read_bytes(), password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise SettingsError("IDWALLET_TRUST_ANCHOR_KEY must be an EC private key")
            key = loaded
        return TrustAnchor(certificate, key)
    if settings.is_production:
        raise SettingsError("IDWALLET_TRUST_ANCHOR_CERT is required in production")
    cert_path = settings.var_dir / ANCHOR_CERT_FILE
    key_path = settings.var_dir / ANCHOR_KEY_FILE
    with locked_var_dir(settings.var_dir):
        if not cert_path.exists() or not key_path.exists():
            anchor_key = ec.generate_private_key(ec.SECP256R1())
            certificate = create_trust_anchor(
                anchor_key,
                common_name="idwallet development trust anchor",
                organization="idwallet (development)",
                now=dt.datetime.now(dt.UTC),
            )
            write_private_file(key_path, wrapper.wrap(anchor_key, context=_ANCHOR_CONTEXT))
            cert_path.write_bytes(certificate.public_bytes(Encoding.PEM))
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return TrustAnchor(certificate, wrapper.unwrap(key_path.read_bytes(), context=_ANCHOR_CONTEXT))
