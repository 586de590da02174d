"""Strict encodings: base64url without padding (RFC 7515 §2) and strict JSON.

Strict JSON follows RFC 8259 with the I-JSON restrictions of RFC 7493 §2 that matter for
security: duplicate member names, ``NaN``/``Infinity``, numbers that overflow and absurd
nesting are :class:`StrictJsonError`, never a Python exception that surfaces later as a
500. Every parse takes a byte limit that is checked before any parsing happens.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any

DEFAULT_MAX_JSON_BYTES = 256 * 1024
DEFAULT_MAX_DEPTH = 32
MAX_INTEGER_DIGITS = 40

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_ALPHABET_INDEX = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}


class EncodingError(ValueError):
    """Malformed base64url or JSON input."""


class StrictJsonError(EncodingError):
    """JSON that is syntactically broken or outside the strict profile."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes) -> bytes:
    """Decode unpadded base64url; padding, other alphabets and bad lengths are errors."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError as exc:
            raise EncodingError("base64url input is not ASCII") from exc
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise EncodingError("not unpadded base64url")
    # Canonical form only: the unused low bits of the last character must be zero, so
    # that one byte string has exactly one encoding (RFC 4648 §3.5).
    spare = len(text) % 4
    if spare and _ALPHABET_INDEX[text[-1]] & (0x0F if spare == 2 else 0x03):
        raise EncodingError("non-canonical base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:  # pragma: no cover - excluded by the regex above
        raise EncodingError("not unpadded base64url") from exc


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


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates,
    parse_constant=_reject_constant,
    parse_float=_parse_float,
    parse_int=_parse_int,
    strict=True,
)


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
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StrictJsonError("JSON text is not UTF-8") from exc
    else:
        text = data
    if len(text) > max_bytes:
        raise StrictJsonError(f"JSON text larger than {max_bytes} bytes")
    try:
        value = _DECODER.decode(text)
    except StrictJsonError:
        raise
    except RecursionError as exc:
        raise StrictJsonError("JSON nested too deeply") from exc
    except (ValueError, TypeError) as exc:
        raise StrictJsonError("malformed JSON") from exc
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


def json_dumps(value: Any) -> str:
    """Compact JSON as signed by idwallet (UTF-8, no insignificant whitespace)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def json_dumps_bytes(value: Any) -> bytes:
    return json_dumps(value).encode("utf-8")
