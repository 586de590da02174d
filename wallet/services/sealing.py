"""Per-citizen encryption at rest (RFC 9901 §10.1: holder storage; SECURITY-CASES A04).

Each account has its own 256-bit data key, stored only wrapped (AES-256-GCM) under the
wallet's key-encryption key, which comes from configuration and never enters the
database. Every sealed value is AES-256-GCM under the data key, with the account, the kind
of record and its id as associated data: a sealed blob copied to another row or another
account does not open.
"""

from __future__ import annotations

from typing import Any

import msgspec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # data keys are made here

from core.audit.subject import subject_key
from core.encoding import json_dumps_bytes
from core.sealing import Sealer

_DECODER = msgspec.json.Decoder()


class AccountBox:
    """Seals and opens one account's records."""

    def __init__(self, account_id: str, data_key: bytes) -> None:
        self.account_id = account_id
        self._sealer = Sealer(data_key)
        self._subject_key = subject_key(data_key, account_id)

    @property
    def subject_key(self) -> str:
        """The account as the audit trail names it (``AuditEntry.subject_key``): a keyed
        hash under the account's data key (``core.audit.subject``), so it is forgotten
        with the account."""
        return self._subject_key

    def _context(self, kind: str, record_id: str) -> str:
        return f"idwallet wallet/{self.account_id}/{kind}/{record_id}"

    def seal_bytes(self, kind: str, record_id: str, data: bytes) -> bytes:
        return self._sealer.seal(data, self._context(kind, record_id))

    def open_bytes(self, kind: str, record_id: str, blob: bytes) -> bytes:
        return self._sealer.open(blob, self._context(kind, record_id))

    def seal(self, kind: str, record_id: str, value: Any) -> bytes:
        return self.seal_bytes(kind, record_id, json_dumps_bytes(value))

    def open(self, kind: str, record_id: str, blob: bytes) -> Any:
        # authenticated, so written by this wallet: the compiled decoder, not a strict one
        return _DECODER.decode(self.open_bytes(kind, record_id, blob))


class AccountVault:
    """Makes and unwraps the accounts' data keys under the wallet key-encryption key."""

    def __init__(self, key_encryption_key: bytes) -> None:
        self._kek = Sealer(key_encryption_key)

    def new_account(self, account_id: str) -> tuple[AccountBox, bytes]:
        """A fresh data key: the box to use now and the wrapped key to store."""
        data_key = AESGCM.generate_key(bit_length=256)
        wrapped = self._kek.seal(data_key, f"idwallet wallet data key/{account_id}")
        return AccountBox(account_id, data_key), wrapped

    def box(self, account_id: str, wrapped_data_key: bytes) -> AccountBox:
        data_key = self._kek.open(wrapped_data_key, f"idwallet wallet data key/{account_id}")
        return AccountBox(account_id, data_key)
