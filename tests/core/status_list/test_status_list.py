"""Token Status List: spec vectors, round trips for every bit size, bounded decompression,
and the Status List Token (§5.1) with the §8.3 checks."""

from __future__ import annotations

import json
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from core.encoding import b64url_encode
from core.jose.jws import sign_compact
from core.keys.signer import SoftwareSigner
from core.status_list.bits import INVALID, SUSPENDED, VALID, StatusList, StatusListError
from core.status_list.token import (
    StatusReference,
    build_status_list_token,
    parse_status_claim,
    verify_status_list_token,
)

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "status_list" / "token_status_list.json").read_text()
)["lists"]
URI = "https://issuer.example.gov/status-lists/civil-registry/1"


@pytest.mark.parametrize("vector", VECTORS, ids=[v["source"] for v in VECTORS])
def test_spec_vectors_decode_to_the_listed_statuses(vector: dict[str, Any]) -> None:
    decoded = StatusList.from_json({"bits": vector["bits"], "lst": vector["lst"]})
    assert decoded.capacity >= vector["size"]
    expected = {int(i): v for i, v in vector["statuses"].items() if v}
    per_byte = 8 // vector["bits"]
    candidates = (
        b * per_byte + k for b, byte in enumerate(decoded.data) if byte for k in range(per_byte)
    )
    nonzero = {i: decoded.get(i) for i in candidates if decoded.get(i)}
    assert nonzero == expected


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS if "bytes_hex" in v], ids=lambda v: v["source"]
)
def test_small_vectors_pack_to_the_spec_bytes(vector: dict[str, Any]) -> None:
    status_list = StatusList.empty(vector["bits"], vector["size"])
    for index, value in vector["statuses"].items():
        status_list.set(int(index), value)
    assert bytes(status_list.data).hex() == vector["bytes_hex"]
    # Compare decompressed content, not compressed bytes (encoders may differ).
    assert zlib.decompress(bytes.fromhex(vector["zlib_hex"])) == bytes(status_list.data)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([1, 2, 4, 8]).flatmap(
        lambda bits: st.tuples(
            st.just(bits),
            st.lists(st.integers(0, (1 << bits) - 1), min_size=1, max_size=300),
        )
    )
)
def test_round_trip_for_every_bit_size(case: tuple[int, list[int]]) -> None:
    bits, statuses = case
    status_list = StatusList.empty(bits, len(statuses))
    for index, status in enumerate(statuses):
        status_list.set(index, status)
    decoded = StatusList.from_json(status_list.to_json())
    assert [decoded.get(i) for i in range(len(statuses))] == statuses


@given(
    st.sampled_from([1, 2, 4, 8]).flatmap(
        lambda bits: st.tuples(
            st.just(bits),
            st.dictionaries(st.integers(0, 999), st.integers(1, (1 << bits) - 1), max_size=200),
        )
    )
)
def test_a_list_from_indices_equals_one_set_entry_by_entry(
    case: tuple[int, dict[int, int]],
) -> None:
    bits, statuses = case
    by_status: dict[int, list[int]] = {}
    for index, status in statuses.items():
        by_status.setdefault(status, []).append(index)
    expected = StatusList.empty(bits, 1000)
    for index, status in statuses.items():
        expected.set(index, status)
    built = StatusList.from_indices(bits, 1000, by_status)
    assert built.data == expected.data
    # what any ZLIB inflater reads back (the system zlib here, not our decoder)
    assert zlib.decompress(built.compress()) == bytes(expected.data)


@pytest.mark.parametrize(
    ("by_status", "problem"),
    [({1: [1000]}, "out of bounds"), ({1: [-1]}, "out of bounds"), ({4: [0]}, "does not fit")],
)
def test_a_list_from_indices_refuses_what_does_not_fit(
    by_status: dict[int, list[int]], problem: str
) -> None:
    with pytest.raises(StatusListError, match=problem):
        StatusList.from_indices(2, 1000, by_status)


def test_a_sparse_national_scale_list_compresses_at_the_highest_level() -> None:
    """§4.2 recommends the highest level: the output is no larger than the system zlib's
    level 9 and inflates with it to the same bytes."""
    status_list = StatusList.from_indices(2, 1_000_000, {1: range(0, 1_000_000, 997)})
    compressed = status_list.compress()
    assert zlib.decompress(compressed) == bytes(status_list.data)
    assert len(compressed) <= len(zlib.compress(bytes(status_list.data), 9))


def test_setting_one_index_leaves_its_neighbours_alone() -> None:
    status_list = StatusList.empty(2, 16)
    for i in range(16):
        status_list.set(i, 3)
    status_list.set(5, SUSPENDED)
    status_list.set(6, VALID)
    assert [status_list.get(i) for i in (4, 5, 6, 7)] == [3, SUSPENDED, VALID, 3]


@pytest.mark.parametrize("bits", [0, 3, 16, True])
def test_bits_must_be_1_2_4_or_8(bits: int) -> None:
    with pytest.raises(StatusListError):
        StatusList.empty(bits, 8)


def test_out_of_range_index_and_status() -> None:
    status_list = StatusList.empty(1, 8)
    with pytest.raises(StatusListError):
        status_list.get(8)
    with pytest.raises(StatusListError):
        status_list.get(-1)
    with pytest.raises(StatusListError):
        status_list.set(0, 2)


def test_a_compressed_bomb_is_an_error_not_an_out_of_memory() -> None:
    bomb = zlib.compress(b"\x00" * (64 * 1024 * 1024), 9)
    assert len(bomb) < 100_000
    with pytest.raises(StatusListError, match="more than"):
        StatusList.decompress(1, bomb, max_bytes=1024 * 1024)


@pytest.mark.parametrize(
    "value",
    [
        {"bits": 1, "lst": "not base64!"},
        {"bits": 1, "lst": b64url_encode(b"not zlib")},
        {"bits": 1, "lst": b64url_encode(zlib.compress(b"\x00" * 10)[:-3])},  # truncated
        {"bits": 1, "lst": b64url_encode(zlib.compress(b"\x00") + b"junk")},
        {"bits": "1", "lst": "eNrbuRgAAhcBXQ"},
        {"lst": "eNrbuRgAAhcBXQ"},
        [1],
    ],
)
def test_malformed_status_lists(value: object) -> None:
    with pytest.raises(StatusListError):
        StatusList.from_json(value)


@pytest.fixture(scope="module")
def signer() -> SoftwareSigner:
    return SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))


def _public(signer: SoftwareSigner) -> ec.EllipticCurvePublicKey:
    key = signer._key.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def test_status_list_token_round_trip(signer: SoftwareSigner) -> None:
    status_list = StatusList.empty(2, 1000)
    status_list.set(42, INVALID)
    status_list.set(43, SUSPENDED)
    now = int(time.time())
    token = build_status_list_token(
        status_list, signer, uri=URI, issued_at=now, expires_at=now + 86400, ttl=3600
    )
    verified = verify_status_list_token(token, _public(signer), expected_uri=URI, now=now)
    assert verified.ttl == 3600
    assert verified.header["typ"] == "statuslist+jwt"
    assert verified.status_of(StatusReference(42, URI)) == INVALID
    assert verified.status_of(StatusReference(43, URI)) == SUSPENDED
    assert verified.status_of(StatusReference(44, URI)) == VALID
    with pytest.raises(StatusListError):
        verified.status_of(StatusReference(10_000, URI))  # §8.3 step 6: out of bounds
    with pytest.raises(StatusListError):
        verified.status_of(StatusReference(42, URI + "/other"))  # §8.3 step 4a


def test_status_list_token_checks(signer: SoftwareSigner) -> None:
    now = int(time.time())
    status_list = StatusList.empty(1, 8)
    expired = build_status_list_token(
        status_list, signer, uri=URI, issued_at=now - 7200, expires_at=now - 3600
    )
    with pytest.raises(StatusListError):
        verify_status_list_token(expired, _public(signer), expected_uri=URI, now=now)
    other_subject = build_status_list_token(status_list, signer, uri=URI + "2", issued_at=now)
    with pytest.raises(StatusListError, match="sub"):
        verify_status_list_token(other_subject, _public(signer), expected_uri=URI, now=now)
    wrong_typ = sign_compact(
        {"sub": URI, "iat": now, "status_list": status_list.to_json()}, signer, typ="JWT"
    )
    with pytest.raises(StatusListError):
        verify_status_list_token(wrong_typ, _public(signer), expected_uri=URI, now=now)
    no_iat = sign_compact(
        {"sub": URI, "status_list": status_list.to_json()}, signer, typ="statuslist+jwt"
    )
    with pytest.raises(StatusListError):
        verify_status_list_token(no_iat, _public(signer), expected_uri=URI, now=now)
    bad_ttl = sign_compact(
        {"sub": URI, "iat": now, "ttl": -5, "status_list": status_list.to_json()},
        signer,
        typ="statuslist+jwt",
    )
    with pytest.raises(StatusListError, match="ttl"):
        verify_status_list_token(bad_ttl, _public(signer), expected_uri=URI, now=now)


@pytest.mark.parametrize(
    "status",
    [
        None,
        {"status_list": {"idx": -1, "uri": URI}},
        {"status_list": {"idx": True, "uri": URI}},
        {"status_list": {"idx": "3", "uri": URI}},
        {"status_list": {"idx": 3}},
        {"status_list": {"idx": 3, "uri": ""}},
        {"other": {}},
    ],
)
def test_malformed_status_claims(status: object) -> None:
    with pytest.raises(StatusListError):
        parse_status_claim(status)


def test_status_claim_round_trip() -> None:
    reference = StatusReference(7, URI)
    assert parse_status_claim(reference.to_claim()) == reference
