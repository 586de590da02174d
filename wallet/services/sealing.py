"""Per-citizen encryption at rest (RFC 9901 §10.1: holder storage; SECURITY-CASES A04).

Each account has its own 256-bit data key, stored only wrapped (AES-256-GCM) under the
wallet's key-encryption key, which comes from configuration and never enters the
database. Every sealed value is AES-256-GCM under the data key, with the account, the kind
of record and its id as associated data: a sealed blob copied to another row or another
account does not open.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.encoding import json_dumps_bytes

_VERSION = b"\x01"
_NONCE = 12


class SealError(ValueError):
    """A sealed value does not open (wrong key, tampered, or moved)."""


def _seal(aead: AESGCM, data: bytes, context: str) -> bytes:
    nonce = os.urandom(_NONCE)
    return _VERSION + nonce + aead.encrypt(nonce, data, context.encode("utf-8"))


def _open(aead: AESGCM, blob: bytes, context: str) -> bytes:
    if len(blob) < 1 + _NONCE + 16 or blob[:1] != _VERSION:
        raise SealError("unknown sealed format")
    try:
        return aead.decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], context.encode("utf-8"))
    except InvalidTag as exc:
        raise SealError("sealed value does not open") from exc


class AccountBox:
    """Seals and opens one account's records."""

    def __init__(self, account_id: str, data_key: bytes) -> None:
        self.account_id = account_id
        self._aead = AESGCM(data_key)

    def _context(self, kind: str, record_id: str) -> str:
        return f"idwallet wallet/{self.account_id}/{kind}/{record_id}"

    def seal_bytes(self, kind: str, record_id: str, data: bytes) -> bytes:
        return _seal(self._aead, data, self._context(kind, record_id))

    def open_bytes(self, kind: str, record_id: str, blob: bytes) -> bytes:
        return _open(self._aead, blob, self._context(kind, record_id))

    def seal(self, kind: str, record_id: str, value: Any) -> bytes:
        return self.seal_bytes(kind, record_id, json_dumps_bytes(value))

    def open(self, kind: str, record_id: str, blob: bytes) -> Any:
        return json.loads(self.open_bytes(kind, record_id, blob))  # authenticated: ours


class AccountVault:
    """Makes and unwraps the accounts' data keys under the wallet key-encryption key."""

    def __init__(self, key_encryption_key: bytes) -> None:
        if len(key_encryption_key) != 32:
            raise ValueError("the wallet key-encryption key must be 32 bytes")
        self._kek = AESGCM(key_encryption_key)

    def new_account(self, account_id: str) -> tuple[AccountBox, bytes]:
        """A fresh data key: the box to use now and the wrapped key to store."""
        data_key = AESGCM.generate_key(bit_length=256)
        wrapped = _seal(self._kek, data_key, f"idwallet wallet data key/{account_id}")
        return AccountBox(account_id, data_key), wrapped

    def box(self, account_id: str, wrapped_data_key: bytes) -> AccountBox:
        data_key = _open(self._kek, wrapped_data_key, f"idwallet wallet data key/{account_id}")
        return AccountBox(account_id, data_key)
