"""The keyed hash by which an audit entry may refer to a citizen's account
(``AuditEntry.subject_key``) without holding personal data.

The key is the account's own audit key, derived from the account's data key (HKDF,
RFC 5869, with its own ``info``): the wallet derives it when it appends an entry for the
account, and deleting the account deletes the data key, so the key is forgotten with it.
The entries stay, and so does the chain (their hashes do not change); the references
in them can no longer be linked to anyone, since nobody can compute the key again. An
entry's reference is HMAC-SHA-256 (RFC 2104) of the reference under that key, in hex.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

AUDIT_KEY_INFO = b"idwallet:audit subject key"
MIN_DATA_KEY_BYTES = 16


def account_audit_key(data_key: bytes) -> bytes:
    """The account's audit key, from its data key (forgotten when the data key is)."""
    if len(data_key) < MIN_DATA_KEY_BYTES:
        raise ValueError("an account's data key has at least 128 bits")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=AUDIT_KEY_INFO).derive(
        data_key
    )


def subject_key(audit_key: bytes, reference: str) -> str:
    """The keyed hash an entry holds for ``reference`` (an account or citizen id)."""
    return hmac.new(audit_key, reference.encode("utf-8"), hashlib.sha256).hexdigest()
