"""Strict CBOR decoding (core.mdoc.cbor): what it accepts, each refusal by name, and
properties: any input decodes or raises MalformedCbor, never anything else."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.mdoc.cbor import CborLimits, EncodedCbor, decode, encode, tdate
from core.mdoc.errors import MalformedCbor


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def test_round_trip_of_mdoc_values() -> None:
    value = {
        "text": "Köln",
        "int": [0, 23, 24, 255, 256, 65535, 65536, 2**32, 2**64 - 1, -1, -(2**64)],
        "bytes": b"\x00\xff",
        "flags": [True, False, None],
        "float": 1.5,
        "birth_date": dt.date(1990, 1, 2),
        "signed": dt.datetime(2026, 3, 2, 10, 0, 0, tzinfo=dt.UTC),
        "nested": EncodedCbor.of({1: -7}),
        7: "integer key",
    }
    assert decode(encode(value)) == value


def test_dates_are_encoded_as_iso_18013_5_asks() -> None:
    # §7.2.1: tdate with "Z" and no fraction; full-date as tag 1004 (RFC 8943).
    moment = dt.datetime(2026, 3, 2, 11, 0, 0, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert tdate(moment) == "2026-03-02T10:00:00Z"
    assert encode(moment) == b"\xc0\x74" + b"2026-03-02T10:00:00Z"
    assert encode(dt.date(1990, 1, 2)) == _hex("d903ec 6a") + b"1990-01-02"


def test_tdate_with_offset_decodes_to_utc() -> None:
    value = decode(b"\xc0\x78\x1b" + b"2026-03-02T11:00:00.5+01:00")
    assert value == dt.datetime(2026, 3, 2, 10, 0, 0, 500_000, tzinfo=dt.UTC)


def test_encoded_cbor_keeps_its_exact_bytes() -> None:
    inner = _hex("a1 6161 01")
    value = decode(b"\xd8\x18\x44" + inner)
    assert isinstance(value, EncodedCbor)
    assert value.data == inner
    assert value.tagged() == b"\xd8\x18\x44" + inner
    assert value.decode() == {"a": 1}


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("indefinite array", "9f 01 ff", "indefinite-length"),
        ("indefinite map", "bf 6161 01 ff", "indefinite-length"),
        ("indefinite byte string", "5f 41 00 ff", "indefinite-length"),
        ("indefinite text string", "7f 61 61 ff", "indefinite-length"),
        ("lone break", "ff", "break"),
        ("duplicate text key", "a2 6161 01 6161 02", "duplicate map key"),
        ("duplicate integer key", "a2 01 01 01 02", "duplicate map key"),
        ("byte string key", "a1 41 00 01", "map key"),
        ("array key", "a1 80 01", "map key"),
        ("epoch time tag 1", "c1 01", "tag 1"),
        ("bignum tag 2", "c2 41 01", "tag 2"),
        ("shared value tag 28", "d8 1c 01", "tag 28"),
        ("string reference tag 25", "d8 19 00", "tag 25"),
        ("self-described CBOR", "d9 d9f7 01", "tag 55799"),
        ("COSE_Sign1 tag not allowed by default", "d2 84 40 a0 f6 40", "tag 18"),
        ("tag 24 around an integer", "d8 18 01", "tag 24 must enclose a byte string"),
        ("tdate around an integer", "c0 01", "tag 0 must enclose a text string"),
        ("tdate not RFC 3339", "c0 64 32303236", "tdate"),
        ("full-date not a date", "d903ec 6a 313939302d31332d3031", "full-date"),
        ("full-date basic form", "d903ec 68 3139393030313032", "full-date"),
        ("undefined", "f7", "undefined"),
        ("one-byte simple value", "f8 20", "simple value"),
        ("NaN", "f9 7e00", "NaN"),
        ("infinity", "fa 7f800000", "NaN or infinite"),
        ("integer not in shortest form", "18 01", "shortest form"),
        ("length not in shortest form", "59 0001 00", "shortest form"),
        ("tag not in shortest form", "d9 0018 40", "shortest form"),
        ("reserved additional information", "1c", "reserved"),
        ("truncated", "62 61", "truncated"),
        ("trailing bytes", "01 02", "trailing bytes"),
        ("text string not UTF-8", "62 ff00", "UTF-8"),
        ("empty input", "", "truncated"),
    ],
)
def test_refused(name: str, data: str, message: str) -> None:
    with pytest.raises(MalformedCbor, match=message):
        decode(_hex(data))


def test_allowed_tag_is_decodable_when_named() -> None:
    limits = CborLimits(allowed_tags=frozenset({18, 24}))
    value = decode(_hex("d2 84 40 a0 f6 40"), limits=limits)
    assert getattr(value, "tag", None) == 18


def test_unknown_tags_cannot_be_allowed() -> None:
    with pytest.raises(ValueError, match="cannot be decoded"):
        CborLimits(allowed_tags=frozenset({28}))


def test_deep_nesting_is_refused_before_decoding() -> None:
    deep = b"\x81" * 10_000 + b"\x01"
    with pytest.raises(MalformedCbor, match="nested deeper than 16"):
        decode(deep)
    assert decode(b"\x81" * 15 + b"\x01") is not None


def test_huge_declared_lengths_are_refused_without_allocation() -> None:
    # A byte string, an array and a map each claiming 2^63 members in a few bytes.
    for head in ("5b 8000000000000000", "9b 8000000000000000", "bb 8000000000000000"):
        with pytest.raises(MalformedCbor, match="longer than"):
            decode(_hex(head) + b"\x00" * 8)


def test_huge_byte_string_is_refused() -> None:
    limits = CborLimits(max_string_bytes=1024)
    with pytest.raises(MalformedCbor, match="string longer than 1024"):
        decode(encode(b"\x00" * 1025), limits=limits)
    assert decode(encode(b"\x00" * 1024), limits=limits) == b"\x00" * 1024


def test_input_size_is_checked_before_parsing() -> None:
    limits = CborLimits(max_bytes=16)
    with pytest.raises(MalformedCbor, match="larger than 16 bytes"):
        decode(b"\xff" * 17, limits=limits)


def test_item_count_is_bounded() -> None:
    # An array bomb: 60000 one-byte items is well-formed but too many items.
    bomb = _hex("99 ea60") + b"\x00" * 60_000
    with pytest.raises(MalformedCbor, match="more than 20000 data items"):
        decode(bomb)


def test_indefinite_length_bomb_is_refused_at_its_first_byte() -> None:
    # Nested indefinite arrays that never end: refused, nothing decoded.
    with pytest.raises(MalformedCbor, match="indefinite-length"):
        decode(b"\x9f" * 100_000)


def test_non_bytes_input_is_refused() -> None:
    with pytest.raises(MalformedCbor):
        decode("a0")  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_malformed_cbor(data: bytes) -> None:
    with contextlib.suppress(MalformedCbor):
        decode(data)


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.dates()
)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=5) | st.integers(-100, 100), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(_values)
def test_what_we_encode_we_decode(value: object) -> None:
    assert decode(encode(value)) == value


@settings(max_examples=200, deadline=None)
@given(_values, st.data())
def test_any_flipped_byte_decodes_or_raises_malformed_cbor(
    value: object, data: st.DataObject
) -> None:
    encoded = bytearray(encode(value))
    index = data.draw(st.integers(0, len(encoded) - 1))
    encoded[index] ^= data.draw(st.integers(1, 255))
    with contextlib.suppress(MalformedCbor):
        decode(bytes(encoded))
