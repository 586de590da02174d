"""The keyed reference to a citizen's account (``core.audit.subject``)."""

from __future__ import annotations

import os

import pytest

from core.audit.subject import account_audit_key, subject_key


def test_the_reference_is_keyed_by_the_account_and_holds_no_identifier() -> None:
    data_key = os.urandom(32)
    key = account_audit_key(data_key)
    reference = subject_key(key, "citizen-4711")
    assert len(reference) == 64 and "4711" not in reference
    assert reference == subject_key(account_audit_key(data_key), "citizen-4711")
    # another account's key (or a guess of the identifier without the key) gives another
    assert reference != subject_key(account_audit_key(os.urandom(32)), "citizen-4711")
    assert key != data_key


def test_a_data_key_too_short_is_refused() -> None:
    with pytest.raises(ValueError, match="128 bits"):
        account_audit_key(b"short")
