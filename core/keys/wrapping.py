"""Private keys at rest: AES-256-GCM under a key-encryption key (KEK).

A wrapped key is ``version(1) || nonce(12) || ciphertext+tag`` over the PKCS#8 DER of the
key; the associated data binds it to its ``kid`` and owner, so a wrapped blob moved to
another row does not unwrap.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)

from core.jose.algorithms import PrivateKey

_VERSION = b"\x01"
KEK_BYTES = 32


class KeyUnwrapError(ValueError):
    """The wrapped key does not open with this KEK (wrong KEK, tampered or moved blob)."""


class KeyWrapper:
    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEK_BYTES:
            raise ValueError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(kek)

    def wrap(self, key: PrivateKey, *, context: str) -> bytes:
        der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, der, context.encode("utf-8"))

    def unwrap(self, blob: bytes, *, context: str) -> PrivateKey:
        if len(blob) < 1 + 12 + 16 or blob[:1] != _VERSION:
            raise KeyUnwrapError("unknown wrapped-key format")
        try:
            der = self._aead.decrypt(blob[1:13], blob[13:], context.encode("utf-8"))
        except InvalidTag as exc:
            raise KeyUnwrapError("wrapped key does not open with this KEK") from exc
        key = load_der_private_key(der, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise KeyUnwrapError("wrapped key is of an unsupported type")
        return key
