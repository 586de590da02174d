"""The hash chain, its signed heads and the verifier's first break (``core.audit.chain``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.audit import chain as chain_module
from core.audit.chain import (
    GENESIS,
    HEAD_TYPE,
    ChainedEntry,
    SignedHead,
    UnchainedEntry,
    UnsignedLimit,
    anchored_head_keys,
    canonical_facts,
    entry_bytes,
    link,
    recomputed_hash,
    sign_head,
    verify_chain,
    verify_head,
)
from core.jose.jws import decode_unverified, sign_compact
from tests.support.audit import AuditPki, audit_pki, certified_signer

PKI = audit_pki()
OTHER = audit_pki()
ISSUER = "https://audit.example"


def _chain(count: int, start: float = 1_700_000_000.0) -> list[ChainedEntry]:
    entries, previous = [], GENESIS
    for i in range(count):
        entry = link(
            UnchainedEntry(
                at=start + i,
                actor_kind="counter",
                actor="town-hall",
                action="presentation.requested",
                outcome="ok",
                facts=canonical_facts({"claims": ("age_over_18",), "purpose": f"p{i % 3}"}),
                subject_key=None,
            ),
            i + 1,
            previous,
        )
        entries.append(entry)
        previous = entry.entry_hash
    return entries


def _head(entries: list[ChainedEntry], position: int, pki: AuditPki = PKI) -> SignedHead:
    return sign_head(
        pki.signer,
        position=position,
        entry_hash=entries[position - 1].entry_hash,
        at=time.time(),
        issuer=ISSUER,
    )


def test_the_canonical_bytes_are_the_documented_array() -> None:
    data = entry_bytes(
        position=1,
        previous_hash=GENESIS,
        at=1.5,
        actor_kind="operator",
        actor="tax-office",
        action="credential.revoked",
        outcome="ok",
        facts='{"credential_configuration":"id"}',
        subject_key=None,
    )
    assert json.loads(data) == [
        "idwallet-audit/1",
        1,
        GENESIS,
        1_500_000,
        "operator",
        "tax-office",
        "credential.revoked",
        "ok",
        '{"credential_configuration":"id"}',
        None,
    ]
    assert b" " not in data
    entry = link(
        UnchainedEntry(
            1.5,
            "operator",
            "tax-office",
            "credential.revoked",
            "ok",
            '{"credential_configuration":"id"}',
            None,
        ),
        1,
        GENESIS,
    )
    assert entry.entry_hash == hashlib.sha256(data).hexdigest()


def test_facts_are_canonical_whatever_their_order() -> None:
    assert canonical_facts({"b": 1, "a": ("x", "y")}) == '{"a":["x","y"],"b":1}'


def test_a_whole_signed_chain_verifies() -> None:
    entries = _chain(5)
    report = verify_chain(entries, [_head(entries, 3), _head(entries, 5)], PKI.keys)
    assert report.ok, report.first_break
    assert (report.entries, report.heads, report.signed_through) == (5, 2, 5)
    assert report.warnings == []


def test_entries_after_the_last_head_are_a_warning_not_a_break() -> None:
    entries = _chain(5)
    report = verify_chain(entries, [_head(entries, 2)], PKI.keys)
    assert report.ok
    assert report.signed_through == 2
    assert report.warnings == ["positions 3 to 5 are not covered by a signed head yet"]


def test_the_head_is_a_typed_jws_with_the_signers_certificate() -> None:
    entries = _chain(2)
    head = _head(entries, 2)
    parsed = decode_unverified(head.jws)
    assert parsed.header["typ"] == HEAD_TYPE
    assert parsed.header["alg"] == "ES256"
    assert parsed.header["x5c"] == list(PKI.signer.x5c or ())
    assert json.loads(parsed.payload_bytes)["position"] == 2


def test_a_head_signed_under_another_anchor_is_a_break() -> None:
    entries = _chain(3)
    report = verify_chain(entries, [_head(entries, 3, OTHER)], PKI.keys)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.kind) == (3, "head_signature_invalid")


def test_a_head_of_another_type_is_a_break() -> None:
    entries = _chain(2)
    payload = {"iss": "x", "position": 2, "entry_hash": entries[1].entry_hash, "iat": 1}
    forged = SignedHead(
        2,
        entries[1].entry_hash,
        1.0,
        sign_compact(payload, PKI.signer, typ="JWT", include_x5c=True),
    )
    report = verify_chain(entries, [forged], PKI.keys)
    assert report.first_break is not None
    assert report.first_break.kind == "head_signature_invalid"


def test_a_head_stating_another_hash_is_a_break() -> None:
    entries = _chain(3)
    wrong = sign_head(PKI.signer, position=2, entry_hash="a" * 64, at=time.time(), issuer=ISSUER)
    report = verify_chain(entries, [wrong], PKI.keys)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.kind) == (2, "head_mismatch")


def test_entries_removed_from_the_signed_end_are_found() -> None:
    entries = _chain(5)
    report = verify_chain(entries[:3], [_head(entries, 5)], PKI.keys)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.kind) == (4, "head_beyond_chain")


def test_a_chain_pruned_up_to_a_head_verifies_from_it() -> None:
    entries = _chain(6)
    heads = [_head(entries, 3), _head(entries, 6)]
    assert verify_chain(entries[3:], heads, PKI.keys).ok
    report = verify_chain(entries[3:], heads[1:], PKI.keys)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.kind) == (3, "gap")


def test_a_removed_first_entry_is_a_gap_at_position_one() -> None:
    entries = _chain(3)
    report = verify_chain(entries[1:], [_head(entries, 3)], PKI.keys)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.kind) == (1, "gap")


FIELDS = ("at", "actor_kind", "actor", "action", "outcome", "facts", "subject_key")


def _changed(entry: ChainedEntry, name: str) -> ChainedEntry:
    value = getattr(entry, name)
    if name == "at":
        return dataclasses.replace(entry, at=value + 1)
    if name == "subject_key":
        return dataclasses.replace(entry, subject_key="k" * 64)
    return dataclasses.replace(entry, **{name: value + "x"})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.integers(min_value=1, max_value=12),
    data=st.data(),
)
def test_any_changed_removed_or_reordered_entry_is_found(count: int, data: st.DataObject) -> None:
    """Whatever one entry suffers (its content changed, with or without its own hash
    recomputed; removed; moved), a fully signed chain reports a break at or before it."""
    entries = _chain(count)
    heads = [_head(entries, count)]
    index = data.draw(st.integers(min_value=0, max_value=count - 1))
    how = data.draw(st.sampled_from(["change", "change_and_rehash", "remove", "move"]))
    tampered = list(entries)
    if how in ("change", "change_and_rehash"):
        changed = _changed(entries[index], data.draw(st.sampled_from(FIELDS)))
        if how == "change_and_rehash":
            changed = dataclasses.replace(changed, entry_hash=recomputed_hash(changed))
        tampered[index] = changed
    elif how == "remove":
        del tampered[index]
    else:
        if count < 2:
            return
        target = data.draw(
            st.integers(min_value=0, max_value=count - 1).filter(lambda t: t != index)
        )
        tampered.insert(target, tampered.pop(index))
    report = verify_chain(tampered, heads, PKI.keys)
    if not tampered:
        # the only entry removed, its head left: what retention leaves, the chain going on
        # from that head (a head kept from an earlier export tells them apart)
        assert report.ok and report.signed_through == count
        return
    assert report.first_break is not None, (how, index)
    assert report.first_break.position <= min(index, count - 1) + 1 + (
        1 if how == "change_and_rehash" else 0
    )
    if how == "change":
        assert report.first_break == report.first_break.__class__(
            index + 1, "hash_mismatch", "its content does not give its hash"
        )


def test_a_changed_head_payload_is_a_broken_signature() -> None:
    entries = _chain(2)
    head = _head(entries, 2)
    h, p, s = head.jws.split(".")
    forged = dataclasses.replace(head, jws=f"{h}.{p[:-2]}AA.{s}")
    report = verify_chain(entries, [forged], PKI.keys)
    assert report.first_break is not None
    assert report.first_break.kind == "head_signature_invalid"


@pytest.mark.parametrize("position", [1, 2, 3])
def test_the_break_names_the_changed_position(position: int) -> None:
    entries = _chain(3)
    entries[position - 1] = dataclasses.replace(entries[position - 1], actor="someone else")
    report = verify_chain(entries, [], PKI.keys)
    assert report.first_break is not None
    assert report.first_break.position == position
    assert report.first_break.describe().startswith(f"position {position}: hash_mismatch")


def test_heads_left_alone_after_retention_removed_every_entry_verify() -> None:
    entries = _chain(4)
    report = verify_chain([], [_head(entries, 2), _head(entries, 4)], PKI.keys)
    assert report.ok, report.first_break
    assert (report.entries, report.heads, report.signed_through) == (0, 2, 4)
    assert not report.empty
    forged = dataclasses.replace(_head(entries, 4, OTHER))
    report = verify_chain([], [_head(entries, 2), forged], PKI.keys)
    assert report.first_break is not None
    assert report.first_break.kind == "head_signature_invalid"


def test_nothing_at_all_is_reported_empty() -> None:
    report = verify_chain([], [], PKI.keys)
    assert report.ok and report.empty


def test_a_head_signed_by_another_key_under_the_same_anchor_is_a_break() -> None:
    """An agency's or a counter's key is certified under the deployment's anchor too; its
    signature over a head proves nothing."""
    entries = _chain(3)
    agency = certified_signer(PKI, uris=("https://audit.example/issuers/civil-registry",))
    head = sign_head(
        agency, position=3, entry_hash=entries[2].entry_hash, at=time.time(), issuer=ISSUER
    )
    report = verify_chain(entries, [head], PKI.keys)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.kind) == (3, "head_signature_invalid")
    assert "not the deployment's audit key" in report.first_break.detail


def test_a_head_of_another_issuer_is_a_break_where_the_issuer_is_known() -> None:
    entries = _chain(2)
    head = _head(entries, 2)
    assert verify_chain(entries, [head], anchored_head_keys([PKI.anchor], issuer=ISSUER)).ok
    report = verify_chain(
        entries, [head], anchored_head_keys([PKI.anchor], issuer="https://other.example")
    )
    assert report.first_break is not None
    assert report.first_break.kind == "head_signature_invalid"


@pytest.mark.parametrize("iat", [10**20, -(10**20), 2**63])
def test_a_head_stating_an_impossible_time_is_a_break_not_a_crash(iat: int) -> None:
    entries = _chain(1)
    payload = {"iss": ISSUER, "position": 1, "entry_hash": entries[0].entry_hash, "iat": iat}
    forged = SignedHead(
        1,
        entries[0].entry_hash,
        1.0,
        sign_compact(payload, PKI.signer, typ=HEAD_TYPE, include_x5c=True),
    )
    report = verify_chain(entries, [forged], PKI.keys)
    assert report.first_break is not None
    assert report.first_break.kind == "head_signature_invalid"


def test_the_certificate_chain_is_validated_once_for_many_heads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []
    validate = chain_module.validate_chain

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return validate(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(chain_module, "validate_chain", counted)
    entries = _chain(6)
    report = verify_chain(entries, [_head(entries, p) for p in range(1, 7)], PKI.keys)
    assert report.ok and report.signed_through == 6
    assert len(calls) == 1


def test_a_kept_head_finds_entries_removed_from_the_end_with_their_heads() -> None:
    entries = _chain(6)
    kept = verify_head(_head(entries, 5), PKI.keys)
    # the last two entries and the head over them removed: the rest holds on its own
    assert verify_chain(entries[:4], [_head(entries, 4)], PKI.keys).ok
    report = verify_chain(entries[:4], [_head(entries, 4)], PKI.keys, known=[kept])
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.kind) == (5, "known_head_not_covered")
    whole = verify_chain(entries, [_head(entries, 6)], PKI.keys, known=[kept])
    assert whole.ok and whole.known_heads == 1


def test_a_kept_head_stating_another_hash_is_a_break() -> None:
    entries = _chain(3)
    other = _chain(3, start=1_600_000_000.0)
    kept = verify_head(_head(other, 2), PKI.keys)
    report = verify_chain(entries, [_head(entries, 3)], PKI.keys, known=[kept])
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.kind) == (2, "known_head_mismatch")


def test_a_kept_head_removed_by_retention_is_a_warning() -> None:
    entries = _chain(6)
    kept = verify_head(_head(entries, 2), PKI.keys)
    report = verify_chain(
        entries[4:], [_head(entries, 4), _head(entries, 6)], PKI.keys, known=[kept]
    )
    assert report.ok, report.first_break
    assert report.warnings == [
        "the known head of position 2 lies before the retained chain (removed by retention)"
    ]


def test_old_entries_no_head_covers_are_a_break() -> None:
    entries = _chain(5, start=1_700_000_000.0)
    heads = [_head(entries, 2)]
    recent = UnsignedLimit(older_than=1_700_000_000.0)
    assert verify_chain(entries, heads, PKI.keys, unsigned=recent).ok
    later = UnsignedLimit(older_than=1_700_000_100.0)
    report = verify_chain(entries, heads, PKI.keys, unsigned=later)
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.kind) == (3, "unsigned_too_long")
