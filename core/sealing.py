"""Records sealed at rest: AES-256-GCM under a 256-bit key, ``version(1) || nonce(12) ||
ciphertext+tag``, with a context (what the record is and which row it belongs to) as
associated data, so a sealed blob copied to another row, kind or owner does not open.

Used for the citizens' wallet records (under each account's data key), the claims of
agencies' pending offers and kept credential responses (RFC 9901 §10.1; SECURITY-CASES
A04): a copy of the database alone reveals none of them.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.encoding import EncodingError, b64url_decode, b64url_encode

_VERSION = b"\x01"
_NONCE = 12
_TAG = 16
#: Prefix of a sealed record kept in a text column.
TEXT_PREFIX = "sealed:"


class SealError(ValueError):
    """A sealed value does not open (wrong key, tampered, or moved)."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a sealing key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, data: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, data, context.encode("utf-8"))

    def open(self, blob: bytes, context: str) -> bytes:
        if len(blob) < 1 + _NONCE + _TAG or blob[:1] != _VERSION:
            raise SealError("unknown sealed format")
        try:
            return self._aead.decrypt(
                blob[1 : 1 + _NONCE], blob[1 + _NONCE :], context.encode("utf-8")
            )
        except InvalidTag as exc:
            raise SealError("sealed value does not open") from exc

    def seal_text(self, data: bytes, context: str) -> str:
        """For a text column: ``sealed:`` and the blob in base64url."""
        return TEXT_PREFIX + b64url_encode(self.seal(data, context))

    def open_text(self, text: str, context: str) -> bytes:
        if not text.startswith(TEXT_PREFIX):
            raise SealError("not a sealed record")
        try:
            blob = b64url_decode(text.removeprefix(TEXT_PREFIX))
        except EncodingError as exc:
            raise SealError("unknown sealed format") from exc
        return self.open(blob, context)
