"""Web Push messages (RFC 8030) to a browser's push subscription, made ready to send: the
payload encrypted for the browser alone (RFC 8291, ``aes128gcm`` of RFC 8188) and the
request signed by the application server's VAPID key (RFC 8292). The encryption and the
VAPID token are ``pywebpush``'s and ``py_vapid``'s; sending is the caller's (through the
deployment's guarded outbound client), so this module makes no request of its own.

RFC 8292 §2: the token's ``aud`` is the push resource's origin, ``exp`` at most 24 hours
ahead, ``sub`` a contact (``mailto:`` or an ``https`` URL). RFC 8030 §5.2: ``TTL`` says how
long the push service keeps an undelivered message; ``Urgency`` (§5.3) ``normal``.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPusher, WebPushException

from core.encoding import b64url_encode

#: RFC 8292 §2: at most 24 hours; 12 leaves room for clock skew at the push service.
VAPID_LIFETIME = 12 * 3600
#: Seconds a push service keeps a message the browser did not fetch yet.
DEFAULT_TTL = 24 * 3600
#: RFC 8291 §4: the plaintext of one record, with its padding delimiter, fits 4096 bytes.
MAX_PAYLOAD_BYTES = 3000


class PushSubscriptionError(ValueError):
    """The browser's subscription keys are not a P-256 public key and a 16-byte secret."""


@dataclass(frozen=True, slots=True)
class PreparedPush:
    body: bytes
    headers: dict[str, str]


def _b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def check_subscription_keys(p256dh: str, auth: str) -> None:
    """RFC 8291 §3: ``p256dh`` an uncompressed P-256 point, ``auth`` 16 bytes."""
    try:
        point = _b64url_decode(p256dh)
        secret = _b64url_decode(auth)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise PushSubscriptionError("the subscription's p256dh is not a P-256 key") from exc
    if len(point) != 65 or point[0] != 4:
        raise PushSubscriptionError("p256dh must be an uncompressed P-256 point")
    if len(secret) != 16:
        raise PushSubscriptionError("auth must be 16 bytes")


class VapidKey:
    """The application server's key pair (RFC 8292 §3): signs the token of each message,
    and its public key is what browsers subscribe with (``applicationServerKey``)."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey, subject: str) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("a VAPID key is a P-256 key")
        self._vapid = Vapid02(private_key=private_key)
        self.subject = subject
        self.public_key = b64url_encode(
            private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def authorization(self, endpoint: str, now: float | None = None) -> str:
        """RFC 8292 §3: ``vapid t=<JWT>, k=<public key>`` for the endpoint's origin."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        issued = int(time.time() if now is None else now)
        claims = {"aud": audience, "exp": issued + VAPID_LIFETIME, "sub": self.subject}
        header: str = self._vapid.sign(claims)["Authorization"]
        return header

    def prepare(
        self, endpoint: str, p256dh: str, auth: str, payload: bytes, *, ttl: int = DEFAULT_TTL
    ) -> PreparedPush:
        """The request a push service takes (RFC 8030 §5): the payload encrypted for the
        subscription's keys, with the VAPID authorization."""
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise ValueError("a push message carries at most 3000 bytes")
        check_subscription_keys(p256dh, auth)
        try:
            encoded = WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}})
            body = encoded.encode(payload, content_encoding="aes128gcm")["body"]
        except WebPushException as exc:
            raise PushSubscriptionError("the subscription's keys cannot encrypt") from exc
        return PreparedPush(
            body=bytes(body),
            headers={
                "Authorization": self.authorization(endpoint),
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
                "TTL": str(ttl),
                "Urgency": "normal",
            },
        )


def vapid_subject(public_base_url: str, configured: str | None) -> str:
    """The contact of the VAPID token (RFC 8292 §2.1): as configured, else the
    deployment's ``https`` URL, else a ``mailto:`` at its host (development)."""
    if configured:
        return configured
    parts = urlsplit(public_base_url)
    if parts.scheme == "https":
        return f"https://{parts.hostname}"
    return "mailto:wallet@localhost"
