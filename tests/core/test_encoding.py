import base64
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.encoding import (
    EncodingError,
    StrictJsonError,
    b64url_decode,
    b64url_encode,
    json_dumps,
    strict_json_loads,
)


@given(st.binary(max_size=200))
def test_base64url_round_trip(data: bytes) -> None:
    encoded = b64url_encode(data)
    assert "=" not in encoded
    assert b64url_decode(encoded) == data


@pytest.mark.parametrize("bad", ["ab=", "a+b/", "a", "ab cd", "é", "abcde"])
def test_base64url_rejects_padding_other_alphabets_and_bad_lengths(bad: str) -> None:
    with pytest.raises(EncodingError):
        b64url_decode(bad)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',  # duplicate member
        '{"x": {"b": true, "b": false}}',  # duplicate in a nested object
        '{"n": NaN}',
        '{"n": Infinity}',
        '{"n": -Infinity}',
        '{"n": 1e400}',
        '{"n": ' + "9" * 5000 + "}",
        "[" * 10000 + "]" * 10000,
        "[" * 40 + "]" * 40,  # deeper than the default limit of 32
        "{",
        "",
        '{"a": 1} trailing',
    ],
)
def test_strict_json_refuses_outside_the_profile(text: str) -> None:
    with pytest.raises(StrictJsonError):
        strict_json_loads(text)


def test_strict_json_refuses_non_utf8_and_oversized_input() -> None:
    with pytest.raises(StrictJsonError):
        strict_json_loads(b'{"a": "\xff"}')
    with pytest.raises(StrictJsonError):
        strict_json_loads("[" + "1," * 100 + "1]", max_bytes=50)


def test_strict_json_accepts_ordinary_documents() -> None:
    value = strict_json_loads('{"a": [1, 2.5, "x", null, true], "b": {"c": {}}}')
    assert value == {"a": [1, 2.5, "x", None, True], "b": {"c": {}}}
    # brackets inside strings do not count as nesting
    assert strict_json_loads('{"s": "' + "[" * 100 + '"}') == {"s": "[" * 100}


def test_json_dumps_is_compact_and_refuses_nan() -> None:
    assert json_dumps({"a": [1, "ö"]}) == '{"a":[1,"ö"]}'
    with pytest.raises(ValueError):
        json_dumps({"a": math.nan})


@pytest.mark.parametrize("bad", ["QR", "QUJ", "AB"])
def test_base64url_refuses_non_canonical_trailing_bits(bad: str) -> None:
    # "QQ" is the canonical encoding of b"A"; "QR" decodes to the same byte with a spare bit set.
    with pytest.raises(EncodingError):
        b64url_decode(bad)
    assert b64url_decode("QQ") == b"A"


@pytest.mark.parametrize(
    "value",
    [{"a": math.inf}, [math.nan], {1: "x"}, {"a": {2, 3}}, b"bytes", {"a": object()}, [[[[]]]] * 1],
)
def test_json_dumps_refuses_what_json_cannot_carry(value: object) -> None:
    if value == [[[[]]]]:
        assert json_dumps(value) == "[[[[]]]]"
        return
    with pytest.raises(ValueError):
        json_dumps(value)


def test_json_dumps_refuses_absurd_nesting() -> None:
    deep: object = "x"
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ValueError):
        json_dumps(deep)


_URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _canonical_unpadded_base64url(text: str) -> bytes | None:
    """The rule stated plainly: URL alphabet only, and the text is exactly the unpadded
    encoding of what it decodes to."""
    if any(c not in _URL_ALPHABET for c in text) or len(text) % 4 == 1:
        return None
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return data if b64url_encode(data) == text else None


@settings(max_examples=500)
@given(st.text(alphabet=_URL_ALPHABET + "+/= \n.é", max_size=12))
def test_base64url_decodes_exactly_the_canonical_unpadded_texts(text: str) -> None:
    expected = _canonical_unpadded_base64url(text)
    for given_as in (text, text.encode("utf-8")):
        if expected is None:
            with pytest.raises(EncodingError):
                b64url_decode(given_as)
        else:
            assert b64url_decode(given_as) == expected


@pytest.mark.parametrize(
    "bad", ["AB==", "ABC=", "====", "ab+/", "ab/c", "abc\n", "ab\ncd", "QUJD\x00"]
)
def test_base64url_refuses_padding_and_foreign_characters_at_any_length(bad: str) -> None:
    with pytest.raises(EncodingError):
        b64url_decode(bad)
    with pytest.raises(EncodingError):
        b64url_decode(bad.encode("ascii"))
