"""Server-provided DPoP nonces (RFC 9449 §8 at the authorization server, §9 at a resource).

A nonce carries its own expiry and a MAC under the deployment secret, bound to the server
that hands it out (nonces "will be only accepted by the server that issued them", §9): any
worker can issue and check one without touching storage. A nonce may be used by many
proofs while it is fresh (§11.1); what keeps a proof single-use is its ``jti``.

The value is unpredictable (16 random bytes) and base64url, within the ``NQCHAR`` syntax
of §8.1.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from core.clock import SYSTEM_CLOCK, Clock
from core.encoding import EncodingError, b64url_decode, b64url_encode

DEFAULT_NONCE_LIFETIME = 300.0
MIN_SECRET_BYTES = 16

_VERSION = b"\x01"
_RANDOM_BYTES = 16
_MAC_BYTES = 16
_LENGTH = 1 + 8 + _RANDOM_BYTES + _MAC_BYTES
_MAX_ENCODED_LENGTH = 128
_LABEL = b"idwallet DPoP-Nonce\x00"


class DpopNonces:
    """Issues and checks the nonces of ``DPoP-Nonce`` headers; ``server`` names the server
    a nonce is for (e.g. the Credential Issuer Identifier)."""

    def __init__(
        self,
        secret: bytes,
        *,
        clock: Clock = SYSTEM_CLOCK,
        lifetime: float = DEFAULT_NONCE_LIFETIME,
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the nonce secret must have at least {MIN_SECRET_BYTES} bytes")
        if not 0 < lifetime <= 86400:
            raise ValueError("the nonce lifetime must be positive and at most a day")
        self._secret = secret
        self._clock = clock
        self._lifetime = lifetime

    def _mac(self, server: str, body: bytes) -> bytes:
        message = _LABEL + server.encode("utf-8") + b"\x00" + body
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, server: str) -> str:
        """A fresh nonce for ``server``, to send in a ``DPoP-Nonce`` header (§8, §8.2)."""
        expires_at = int(self._clock.now() + self._lifetime)
        body = _VERSION + expires_at.to_bytes(8, "big", signed=True) + os.urandom(_RANDOM_BYTES)
        return b64url_encode(body + self._mac(server, body))

    def is_fresh(self, server: str, nonce: object) -> bool:
        """Whether ``nonce`` was issued for ``server`` by this deployment and has not
        expired."""
        if not isinstance(nonce, str) or len(nonce) > _MAX_ENCODED_LENGTH:
            return False
        try:
            raw = b64url_decode(nonce)
        except EncodingError:
            return False
        if len(raw) != _LENGTH or raw[:1] != _VERSION:
            return False
        body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(server, body)):
            return False
        return int.from_bytes(body[1:9], "big", signed=True) > self._clock.now()
