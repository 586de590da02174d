"""The keyed hash by which an audit entry may refer to a citizen's account
(``AuditEntry.subject_key``) without holding personal data.

The key is the account's data key (the 256-bit key its records are sealed under, kept
only wrapped under the wallet's key-encryption key): deleting the account deletes the
data key, so the key is forgotten with it. The entries stay, and so does the chain (their
hashes do not change); the references in them can no longer be linked to anyone, since
nobody can compute the key again. An entry's reference is HMAC-SHA-256 (RFC 2104), in
hex, of ``idwallet audit subject/`` followed by the account id, under that key; the
label keeps it apart from anything else the data key is used for.
"""

from __future__ import annotations

import hashlib
import hmac

SUBJECT_LABEL = b"idwallet audit subject/"
MIN_DATA_KEY_BYTES = 16


def subject_key(data_key: bytes, account_id: str) -> str:
    """The keyed hash an entry holds for the account ``account_id``."""
    if len(data_key) < MIN_DATA_KEY_BYTES:
        raise ValueError("an account's data key has at least 128 bits")
    return hmac.new(
        data_key, SUBJECT_LABEL + account_id.encode("utf-8"), hashlib.sha256
    ).hexdigest()
