"""Strict encodings: base64url without padding (RFC 7515 §2) and strict JSON.

Strict JSON follows RFC 8259 with the I-JSON restrictions of RFC 7493 §2 that matter for
security: duplicate member names, ``NaN``/``Infinity``, numbers that overflow and absurd
nesting are :class:`StrictJsonError`, never a Python exception that surfaces later as a
500. Every parse takes a byte limit that is checked before any parsing happens.
"""

from __future__ import annotations

import binascii
import json
import json.scanner
import math
from collections.abc import Iterable
from typing import Any

import msgspec

DEFAULT_MAX_JSON_BYTES = 256 * 1024
DEFAULT_MAX_DEPTH = 32
MAX_INTEGER_DIGITS = 40

_TO_URL = bytes.maketrans(b"+/", b"-_")
_TO_STANDARD = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = (b"", b"", b"==", b"=")
_A2B = binascii.a2b_base64
_ALPHABET_INDEX = {
    c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}


class EncodingError(ValueError):
    """Malformed base64url or JSON input."""


class StrictJsonError(EncodingError):
    """JSON that is syntactically broken or outside the strict profile."""


def b64url_encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_TO_URL).decode("ascii")


def b64url_decode(text: str | bytes) -> bytes:
    """Decode unpadded base64url; padding, other alphabets and bad lengths are errors."""
    if isinstance(text, str):
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError as exc:
            raise EncodingError("base64url input is not ASCII") from exc
    else:
        raw = bytes(text)
    spare = len(raw) & 3
    # One pass: "-_" become "+/", while "+", "/" and "=" become "!", which strict
    # decoding refuses like any other character outside the alphabet.
    try:
        if not spare:
            return _A2B(raw.translate(_TO_STANDARD), strict_mode=True)
        if spare == 1:
            raise EncodingError("not unpadded base64url")
        data = _A2B(raw.translate(_TO_STANDARD) + _PADDING[spare], strict_mode=True)
    except binascii.Error as exc:
        raise EncodingError("not unpadded base64url") from exc
    # Canonical form only: the unused low bits of the last character must be zero, so
    # that one byte string has exactly one encoding (RFC 4648 §3.5).
    if _ALPHABET_INDEX[raw[-1]] & (0x0F if spare == 2 else 0x03):
        raise EncodingError("non-canonical base64url")
    return data


def _reject_constant(name: str) -> Any:
    raise StrictJsonError(f"non-standard JSON constant {name}")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJsonError("number out of range")
    return value


def _parse_int(text: str) -> int:
    if len(text) > MAX_INTEGER_DIGITS:
        raise StrictJsonError("integer has too many digits")
    return int(text)


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise StrictJsonError("duplicate member name")
    return obj


_ENCODER = msgspec.json.Encoder()
_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates,
    parse_constant=_reject_constant,
    parse_float=_parse_float,
    parse_int=_parse_int,
    strict=True,
)
_SCAN_ONCE = json.scanner.make_scanner(_DECODER)  # type: ignore[arg-type]
_JSON_WHITESPACE = " \t\n\r"
_WHITESPACE = frozenset(_JSON_WHITESPACE)


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values() if _is_container(child))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node if _is_container(child))
    return False


def _is_container(value: Any) -> bool:
    return isinstance(value, dict | list)


def strict_json_loads(
    data: str | bytes,
    *,
    max_bytes: int = DEFAULT_MAX_JSON_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Any:
    """Parse one JSON text under the strict profile, or raise :class:`StrictJsonError`."""
    if len(data) > max_bytes:
        raise StrictJsonError(f"JSON text larger than {max_bytes} bytes")
    value = _fast_loads(data, max_depth)
    if value is _UNDECIDED:
        value = _strict_loads(data, max_bytes, max_depth)
    return value


#: The fast parser's answer when only the strict parser may decide.
_UNDECIDED: Any = object()
_FAST_DECODE = msgspec.json.Decoder().decode
#: One pass over the text screens it for the checks below: digits and minus signs become
#: "0" (a run of them is a long integer, or part of one), "[" becomes "{" (openers of
#: either kind), "A" becomes "a" (an escaped colon, ``\\u003a`` or ``\\u003A``, reads
#: ``\\u000a``).
_SCREEN = bytes.maketrans(b"-123456789[A", b"0000000000{a")
_TOO_MANY_DIGITS = b"0" * (MAX_INTEGER_DIGITS + 1)
_ESCAPED_COLON = b"\\u000a"
_OPENER, _COLON, _BACKSLASH = b"{:\\"


def _fast_loads(data: str | bytes, max_depth: int) -> Any:
    """The compiled parser, where its answer is provably the strict parser's; otherwise
    ``_UNDECIDED``, and the strict parser decides (and words the refusal).

    The compiled parser refuses NaN, Infinity, overflowing numbers, control characters in
    strings, bad escapes and bad UTF-8 itself; where it would accept what the strict
    profile refuses, the input is handed on:

    - integers written with more than ``MAX_INTEGER_DIGITS`` characters: any run of more
      digits and minus signs;
    - duplicate member names, which it keeps silently (the last wins). A text that is
      exactly the encoding of the value has none (the value is a dict). Otherwise: every
      member has one ``:`` of its own, and a string keeps its ``:`` through decoding and
      encoding unless written ``\\u003a``, so the value, encoded again, has as many ``:``
      as the text exactly when no member was dropped.
    """
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:
            return _UNDECIDED
    elif isinstance(data, bytes):
        raw = data
    else:  # a buffer passed where bytes are typed: the strict parser decides, as before
        return _UNDECIDED  # type: ignore[unreachable]
    try:
        value = _FAST_DECODE(raw)
    except (msgspec.DecodeError, RecursionError):
        return _UNDECIDED
    # (find, count and ``in`` with one byte as an int are the quickest scans of bytes.)
    screened = raw.translate(_SCREEN)
    if screened.find(_TOO_MANY_DIGITS) >= 0:
        return _UNDECIDED
    if _OPENER in raw:
        encoded = _ENCODER.encode(value)
        if encoded != raw and (
            (_BACKSLASH in raw and screened.find(_ESCAPED_COLON) >= 0)
            or raw.count(_COLON) != encoded.count(_COLON)
        ):
            return _UNDECIDED
    # Nesting can only exceed the limit with more than that many openers (and closers).
    if (
        len(raw) > 2 * max_depth
        and screened.count(_OPENER) > max_depth
        and _depth_exceeds(value, max_depth)
    ):
        raise StrictJsonError("JSON nested too deeply")
    return value


def _strict_loads(data: str | bytes, max_bytes: int, max_depth: int) -> Any:
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StrictJsonError("JSON text is not UTF-8") from exc
    else:
        text = data
        if len(text) > max_bytes:
            raise StrictJsonError(f"JSON text larger than {max_bytes} bytes")
    if text[:1] in _WHITESPACE:
        text = text.lstrip(_JSON_WHITESPACE)
    try:
        value, end = _SCAN_ONCE(text, 0)
    except StrictJsonError:
        raise
    except StopIteration as exc:
        raise StrictJsonError("malformed JSON") from exc
    except RecursionError as exc:
        raise StrictJsonError("JSON nested too deeply") from exc
    except (ValueError, TypeError) as exc:
        raise StrictJsonError("malformed JSON") from exc
    if end != len(text) and text[end:].strip(_JSON_WHITESPACE):
        raise StrictJsonError("malformed JSON: data after the value")
    # Nesting can only exceed the limit if there are at least that many openers.
    if text.count("{") + text.count("[") > max_depth and _depth_exceeds(value, max_depth):
        raise StrictJsonError("JSON nested too deeply")
    return value


def strict_json_object(data: str | bytes, **limits: int) -> dict[str, Any]:
    """Parse a JSON text that must be an object."""
    value = strict_json_loads(data, **limits)
    if not isinstance(value, dict):
        raise StrictJsonError("JSON text is not an object")
    return value


MAX_ENCODE_DEPTH = 64
_STR_ONLY = frozenset({str})


def _check_encodable(value: Any, depth: int = 0) -> None:
    """Only JSON's own types: str keys, finite numbers. The encoder would otherwise turn
    NaN into null or an integer key into a string without a word."""
    kind = type(value)
    if kind is dict:
        if not _STR_ONLY.issuperset(map(type, value)):
            raise ValueError("JSON object keys must be strings")
        _check_members(value.values(), depth)
    elif kind is list or kind is tuple:
        _check_members(value, depth)
    elif kind is float:
        if not math.isfinite(value):
            raise ValueError("NaN and Infinity are not JSON")
    elif kind is not str and kind is not int and kind is not bool and value is not None:
        raise ValueError(f"{kind.__name__} is not a JSON type")


def _check_members(items: Iterable[Any], depth: int) -> None:
    if depth >= MAX_ENCODE_DEPTH:
        raise ValueError("value nested too deeply for JSON")
    for item in items:
        kind = type(item)
        if kind is not str and kind is not int and kind is not bool and item is not None:
            _check_encodable(item, depth + 1)


def check_json_encodable(value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is made of JSON types only (see below)."""
    _check_encodable(value)


def encode_checked_json(value: Any) -> bytes:
    """Encode a value that :func:`check_json_encodable` has accepted (or that is built
    from such values and strings); the hot path of issuance checks claims once."""
    return _ENCODER.encode(value)


def json_dumps_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON as signed by idwallet (no insignificant whitespace, no NaN)."""
    _check_encodable(value)
    return _ENCODER.encode(value)


def json_dumps(value: Any) -> str:
    return json_dumps_bytes(value).decode("utf-8")
