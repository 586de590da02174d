"""Strict CBOR (RFC 8949) for mdoc: bounded decoding and deterministic encoding.

Decoding is two passes. A well-formedness scan over the raw bytes comes first (RFC 8949
§5.3.1, written here so that its rules do not depend on a library version) and refuses,
with :class:`MalformedCbor`:

- input longer than ``max_bytes`` (checked before anything else is read), trailing bytes
  after the one top-level item, truncated items, reserved additional information;
- indefinite-length strings, arrays and maps (§3.2.2) and the ``break`` stop code: the
  mdoc structures never need them, and they are how length bombs are made;
- nesting deeper than ``max_depth`` and more than ``max_items`` data items in all;
- byte and text strings longer than ``max_string_bytes``, and array or map counts larger
  than the bytes left could hold (no allocation is ever sized by an attacker's count);
- map keys other than integers and text strings (what ISO/IEC 18013-5 and COSE use), and
  a key twice in one map (§5.6); text strings that are not UTF-8;
- tags outside the allow-list (by default ISO/IEC 18013-5 §7.2.1's: 0 ``tdate``, 24
  encoded CBOR data item, 1004 ``full-date``), and an allowed tag on the wrong kind of item;
- ``undefined`` and unassigned simple values, and floats that are NaN or infinite;
- integers, lengths and tags not in their shortest form (§4.2.1 preferred serialization:
  one item has exactly one encoding of its argument; float widths are left free).

Then ``cbor2`` decodes with its own bounds on (no indefinite lengths, no duplicate map
keys, a depth limit), the tags becoming Python values: ``tdate`` an aware UTC
:class:`datetime.datetime`, ``full-date`` a :class:`datetime.date` and tag 24 an
:class:`EncodedCbor` that keeps its exact bytes, which is what digests and signatures
cover (ISO/IEC 18013-5 §9.1.2.4, §9.1.3.4). Everything ``cbor2`` raises becomes
:class:`MalformedCbor` too.

Encoding (:func:`encode`) is RFC 8949 §4.2 deterministic (sorted map keys, shortest forms);
dates are ``full-date`` (tag 1004, RFC 8943) and date-times ``tdate`` (tag 0) in the form
ISO/IEC 18013-5 §7.2.1 asks for: UTC, ``Z``, no fraction of a second.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

import cbor2

from core.mdoc.errors import MalformedCbor

TAG_TDATE = 0
TAG_COSE_SIGN1 = 18
TAG_ENCODED_CBOR = 24
TAG_FULL_DATE = 1004

#: ISO/IEC 18013-5 §7.2.1: the tags an mdoc structure may carry.
MDOC_TAGS: frozenset[int] = frozenset({TAG_TDATE, TAG_ENCODED_CBOR, TAG_FULL_DATE})
#: Every tag this module can decode; an allow-list names a subset of these.
KNOWN_TAGS: frozenset[int] = MDOC_TAGS | {TAG_COSE_SIGN1}

#: The major type of the item each known tag must enclose (RFC 8949 §3.4, RFC 8943,
#: RFC 9052 §4.2): 3 text string, 2 byte string, 4 array.
_TAG_CONTENT = {TAG_TDATE: 3, TAG_FULL_DATE: 3, TAG_ENCODED_CBOR: 2, TAG_COSE_SIGN1: 4}
_MAJOR_NAMES = ("an integer", "an integer", "a byte string", "a text string", "an array")


@dataclass(frozen=True, slots=True)
class CborLimits:
    """The bounds of one decode. The defaults fit a ``DeviceResponse`` with a portrait."""

    max_bytes: int = 1024 * 1024
    max_depth: int = 16
    max_items: int = 20_000
    max_string_bytes: int = 512 * 1024
    allowed_tags: frozenset[int] = MDOC_TAGS

    def __post_init__(self) -> None:
        if not self.allowed_tags <= KNOWN_TAGS:
            unknown = sorted(self.allowed_tags - KNOWN_TAGS)
            raise ValueError(f"tags {unknown} cannot be decoded here")
        if min(self.max_bytes, self.max_depth, self.max_items, self.max_string_bytes) < 1:
            raise ValueError("CBOR limits must be positive")


DEFAULT_LIMITS = CborLimits()


class EncodedCbor:
    """An encoded CBOR data item, tag 24 (RFC 8949 §3.4.5.1, ``bstr .cbor``): kept as its
    exact bytes, because those are what an mdoc digests and signs."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)

    @classmethod
    def of(cls, value: Any) -> EncodedCbor:
        """Tag 24 around the deterministic encoding of ``value``."""
        return cls(encode(value))

    def decode(self, limits: CborLimits = DEFAULT_LIMITS) -> Any:
        """The enclosed item, decoded with the same strictness as any other input."""
        return decode(self.data, limits=limits)

    def tagged(self) -> bytes:
        """The encoding of ``#6.24(bstr)`` itself: what ISO/IEC 18013-5 digests
        (``IssuerSignedItemBytes``) and signs (``MobileSecurityObjectBytes``)."""
        return _tag24_header(len(self.data)) + self.data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EncodedCbor) and other.data == self.data

    def __hash__(self) -> int:
        return hash((TAG_ENCODED_CBOR, self.data))

    def __repr__(self) -> str:
        return f"EncodedCbor({len(self.data)} bytes)"


def _tag24_header(length: int) -> bytes:
    return b"\xd8\x18" + _argument(2, length)


def _argument(major: int, value: int) -> bytes:
    """The shortest head of a major type with this argument (RFC 8949 §3, §4.2.1)."""
    head = major << 5
    if value < 24:
        return bytes([head | value])
    if value < 0x100:
        return bytes([head | 24, value])
    if value < 0x10000:
        return bytes([head | 25]) + value.to_bytes(2, "big")
    if value < 0x100000000:
        return bytes([head | 26]) + value.to_bytes(4, "big")
    return bytes([head | 27]) + value.to_bytes(8, "big")


def array_header(length: int) -> bytes:
    """The head of an array of ``length`` items, for splicing already encoded items into
    one without decoding them again (``DeviceAuthentication`` embeds the transcript)."""
    return _argument(4, length)


# -- encoding ---------------------------------------------------------------------------


def tdate(moment: dt.datetime) -> str:
    """ISO/IEC 18013-5 §7.2.1 ``tdate`` text: UTC, ``Z``, whole seconds."""
    if moment.tzinfo is None:
        raise ValueError("a tdate needs an aware datetime")
    utc = moment.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None)
    return utc.isoformat(timespec="seconds") + "Z"


def _encode_datetime(encoder: cbor2.CBOREncoder, value: dt.datetime) -> None:
    encoder.encode(cbor2.CBORTag(TAG_TDATE, tdate(value)))


def _encode_date(encoder: cbor2.CBOREncoder, value: dt.date) -> None:
    encoder.encode(cbor2.CBORTag(TAG_FULL_DATE, value.isoformat()))


def _encode_encoded(encoder: cbor2.CBOREncoder, value: EncodedCbor) -> None:
    encoder.encode(cbor2.CBORTag(TAG_ENCODED_CBOR, value.data))


_ENCODERS: dict[type, Any] = {
    dt.datetime: _encode_datetime,
    dt.date: _encode_date,
    EncodedCbor: _encode_encoded,
}


def encode(value: Any) -> bytes:
    """Deterministic CBOR (RFC 8949 §4.2.1) of ``value``."""
    try:
        return cbor2.dumps(value, canonical=True, encoders=_ENCODERS)
    except (cbor2.CBOREncodeError, ValueError, TypeError) as exc:
        raise ValueError(f"value cannot be encoded as CBOR: {exc}") from exc


# -- decoding ---------------------------------------------------------------------------


class _Scanner:
    """RFC 8949 §5.3.1 well-formedness plus this module's profile, over the raw bytes."""

    __slots__ = ("data", "items", "limits", "pos")

    def __init__(self, data: bytes, limits: CborLimits) -> None:
        self.data = data
        self.limits = limits
        self.pos = 0
        self.items = 0

    def fail(self, message: str) -> MalformedCbor:
        return MalformedCbor(f"CBOR {message} (at byte {self.pos})")

    def take(self, count: int) -> bytes:
        end = self.pos + count
        if end > len(self.data):
            raise self.fail("is truncated")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def head(self) -> tuple[int, int, int]:
        """Major type, additional information and argument of the next item."""
        if self.pos >= len(self.data):
            raise self.fail("is truncated")
        initial = self.data[self.pos]
        self.pos += 1
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            return major, info, info
        if info == 31:
            if major == 7:
                raise self.fail("has a break stop code outside an indefinite-length item")
            raise self.fail("has an indefinite-length item, which is not accepted")
        if info > 27:
            raise self.fail("uses reserved additional information")
        size = 1 << (info - 24)
        argument = int.from_bytes(self.take(size), "big")
        shortest_minimum = 24 if size == 1 else 1 << (size * 4)
        if major != 7 and argument < shortest_minimum:
            raise self.fail("has an integer, length or tag not in its shortest form")
        return major, info, argument

    def item(self, depth: int, *, map_key: bool = False) -> int:
        """Scan one data item; return its major type."""
        if depth > self.limits.max_depth:
            raise self.fail(f"is nested deeper than {self.limits.max_depth} levels")
        self.items += 1
        if self.items > self.limits.max_items:
            raise self.fail(f"has more than {self.limits.max_items} data items")
        major, info, argument = self.head()
        if map_key and major not in (0, 1, 3):
            raise self.fail("has a map key that is not an integer or a text string")
        if major in (2, 3):
            if argument > self.limits.max_string_bytes:
                raise self.fail(f"has a string longer than {self.limits.max_string_bytes} bytes")
            text = self.take(argument)
            if major == 3:
                try:
                    text.decode("utf-8")
                except UnicodeDecodeError:
                    raise self.fail("has a text string that is not UTF-8") from None
        elif major == 4:
            if argument > len(self.data) - self.pos:
                raise self.fail("has an array longer than the input")
            for _ in range(argument):
                self.item(depth + 1)
        elif major == 5:
            if argument * 2 > len(self.data) - self.pos:
                raise self.fail("has a map longer than the input")
            # Integers and text strings have one encoding each here (shortest form, UTF-8),
            # so equal keys are equal bytes (RFC 8949 §5.6: duplicate keys are an error).
            keys: set[bytes] = set()
            for _ in range(argument):
                start = self.pos
                self.item(depth + 1, map_key=True)
                key = self.data[start : self.pos]
                if key in keys:
                    raise self.fail("has a duplicate map key")
                keys.add(key)
                self.item(depth + 1)
        elif major == 6:
            self.tag(argument, depth)
        elif major == 7:
            self.simple(info, argument)
        return major

    def tag(self, number: int, depth: int) -> None:
        if number not in self.limits.allowed_tags:
            raise self.fail(f"has tag {number}, which is not accepted here")
        start = self.pos
        enclosed = self.item(depth + 1)
        expected = _TAG_CONTENT[number]
        if enclosed != expected:
            self.pos = start
            raise self.fail(f"tag {number} must enclose {_MAJOR_NAMES[expected]}")

    def simple(self, info: int, argument: int) -> None:
        if info in (20, 21, 22):  # false, true, null
            return
        if info == 25:
            value = struct.unpack(">e", argument.to_bytes(2, "big"))[0]
        elif info == 26:
            value = struct.unpack(">f", argument.to_bytes(4, "big"))[0]
        elif info == 27:
            value = struct.unpack(">d", argument.to_bytes(8, "big"))[0]
        else:
            raise self.fail("has undefined or an unassigned simple value")
        if not math.isfinite(value):
            raise self.fail("has a float that is NaN or infinite")


_TDATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})")
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _decode_tdate(value: Any, immutable: bool) -> dt.datetime:
    if not isinstance(value, str) or not _TDATE.fullmatch(value):
        raise MalformedCbor("a tdate (tag 0) must be an RFC 3339 date-time")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedCbor(f"a tdate (tag 0) is not a valid date-time: {value!r}") from exc
    return moment.astimezone(dt.UTC)


def _decode_full_date(value: Any, immutable: bool) -> dt.date:
    if not isinstance(value, str) or not _FULL_DATE.fullmatch(value):
        raise MalformedCbor("a full-date (tag 1004) must be YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise MalformedCbor(f"a full-date (tag 1004) is not a valid date: {value!r}") from exc


def _decode_encoded(value: Any, immutable: bool) -> EncodedCbor:
    return EncodedCbor(value)


def _keep_tag(tag: cbor2.CBORTag, immutable: bool) -> cbor2.CBORTag:
    return tag


_SEMANTIC_DECODERS: dict[int, Any] = {
    TAG_TDATE: _decode_tdate,
    TAG_FULL_DATE: _decode_full_date,
    TAG_ENCODED_CBOR: _decode_encoded,
    # Allowed only where a caller names it; kept as a tag for the COSE layer to read.
    TAG_COSE_SIGN1: lambda value, immutable: cbor2.CBORTag(TAG_COSE_SIGN1, value),
}


def decode(data: bytes | bytearray | memoryview, *, limits: CborLimits = DEFAULT_LIMITS) -> Any:
    """Decode one CBOR data item under ``limits``; :class:`MalformedCbor` otherwise."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedCbor("CBOR input must be bytes")
    if len(data) > limits.max_bytes:
        raise MalformedCbor(f"CBOR input is larger than {limits.max_bytes} bytes")
    raw = bytes(data)
    scanner = _Scanner(raw, limits)
    try:
        scanner.item(1)
    except RecursionError as exc:  # only with absurd limits; the depth check comes first
        raise MalformedCbor("CBOR is nested too deeply") from exc
    if scanner.pos != len(raw):
        raise MalformedCbor(f"CBOR has trailing bytes after the item (at byte {scanner.pos})")
    try:
        return cbor2.loads(
            raw,
            semantic_decoders=_SEMANTIC_DECODERS,
            tag_hook=_keep_tag,
            max_depth=limits.max_depth + 1,
            allow_indefinite=False,
            allow_duplicate_keys=False,
        )
    except cbor2.CBORDecodeError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, MalformedCbor):
            raise cause from exc
        # The scan above refuses everything cbor2 is known to; its own words stay internal.
        raise MalformedCbor("CBOR does not decode") from exc
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise MalformedCbor("CBOR does not decode") from exc
