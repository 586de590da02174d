"""The keyed reference to a citizen's account (``core.audit.subject``), the one the wallet
writes into the trail."""

from __future__ import annotations

import hashlib
import hmac
import os

import pytest

from core.audit.subject import subject_key
from wallet.services.sealing import AccountBox


def test_the_reference_is_keyed_by_the_account_and_holds_no_identifier() -> None:
    data_key = os.urandom(32)
    reference = subject_key(data_key, "citizen-4711")
    assert len(reference) == 64 and "4711" not in reference
    assert reference == subject_key(data_key, "citizen-4711")
    # another account's key (or a guess of the identifier without the key) gives another
    assert reference != subject_key(os.urandom(32), "citizen-4711")
    assert reference != subject_key(data_key, "citizen-4712")


def test_it_is_the_documented_hmac_and_the_wallets() -> None:
    data_key = os.urandom(32)
    documented = hmac.new(data_key, b"idwallet audit subject/a1", hashlib.sha256).hexdigest()
    assert subject_key(data_key, "a1") == documented
    assert AccountBox("a1", data_key).subject_key == documented


def test_a_data_key_too_short_is_refused() -> None:
    with pytest.raises(ValueError, match="128 bits"):
        subject_key(b"short", "a1")
