"""The deployment's VAPID key (RFC 8292), which signs every Web Push message to the
citizens' browsers and which the web wallet subscribes with: from
``IDWALLET_VAPID_PRIVATE_KEY`` (PEM, or base64url of the 32-byte private scalar as
``web-push generate-vapid-keys`` prints it) or ``IDWALLET_VAPID_PRIVATE_KEY_FILE``; in
development generated at first start into ``var/vapid-private-key.pem`` (mode 0600). In
production without one, Web Push is off (the feed and the live stream still work)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.settings import Settings, SettingsError
from core.encoding import EncodingError, b64url_decode
from core.web_push import VapidKey, vapid_subject

DEV_FILE = "vapid-private-key.pem"


def _parse(text: str, source: str) -> ec.EllipticCurvePrivateKey:
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        else:
            scalar = b64url_decode(text)
            if len(scalar) != 32:
                raise ValueError("a raw P-256 private key is 32 bytes")
            key = ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())
    except (ValueError, TypeError, EncodingError) as exc:
        raise SettingsError(f"{source} is not a P-256 private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SettingsError(f"{source} is not a P-256 private key")
    return key


def _generated(path: Path) -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # written whole under a name of its own, then linked into place (never replacing):
    # several workers starting together all use the first one's key, and none reads a
    # file another is still writing
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _parse(path.read_text(encoding="ascii"), str(path))
        return key
    finally:
        temporary.unlink(missing_ok=True)


def load_vapid_key(settings: Settings) -> VapidKey | None:
    configured = settings.notifications
    subject = vapid_subject(settings.public_base_url, configured.vapid_subject)
    if configured.vapid_private_key is not None:
        key = _parse(configured.vapid_private_key, "IDWALLET_VAPID_PRIVATE_KEY")
    elif configured.vapid_private_key_file is not None:
        try:
            text = configured.vapid_private_key_file.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"cannot read IDWALLET_VAPID_PRIVATE_KEY_FILE: {exc}") from exc
        key = _parse(text, "IDWALLET_VAPID_PRIVATE_KEY_FILE")
    elif settings.is_production:
        return None
    else:
        path = settings.var_dir / DEV_FILE
        key = (
            _parse(path.read_text(encoding="ascii"), str(path))
            if path.exists()
            else _generated(path)
        )
    return VapidKey(key, subject)
