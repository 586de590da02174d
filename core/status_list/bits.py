"""The status array (§4.1): ``bits`` of 1, 2, 4 or 8 per index, packed from the least
significant bit, ZLIB-compressed (RFC 1950) for the ``lst`` member (§4.2).

§4.2 recommends the highest compression level. Compression uses zlib-ng, whose level 9
on a sparse national-scale list (10^7 two-bit entries, 1% revoked) is twice as fast as the
system zlib's and smaller; its output is plain RFC 1950 data that any ZLIB inflater reads.

Decompression is bounded (§11.1): a compressed bomb is :class:`StatusListError`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from zlib_ng import zlib_ng

from core.encoding import EncodingError, b64url_decode, b64url_encode

ALLOWED_BITS = (1, 2, 4, 8)
#: 2^27 bytes = 128 MiB decompressed: above a national-scale list of 10^8 one-bit entries.
DEFAULT_MAX_DECOMPRESSED_BYTES = 1 << 27

VALID = 0x00
INVALID = 0x01
SUSPENDED = 0x02
STATUS_NAMES = {VALID: "valid", INVALID: "invalid", SUSPENDED: "suspended"}


class StatusListError(ValueError):
    """A malformed, oversized or out-of-range Status List."""


@dataclass(slots=True)
class StatusList:
    bits: int
    data: bytearray

    @classmethod
    def empty(cls, bits: int, size: int) -> StatusList:
        """A list of ``size`` entries, all VALID."""
        _check_bits(bits)
        if size < 0:
            raise StatusListError("size must not be negative")
        return cls(bits, bytearray((size * bits + 7) // 8))

    @classmethod
    def from_indices(
        cls, bits: int, size: int, indices_by_status: Mapping[int, Iterable[int]]
    ) -> StatusList:
        """A list of ``size`` entries, VALID but for the given indices of each status: the
        shape a ledger keeps (few flagged entries in a large list), set in one pass."""
        status_list = cls.empty(bits, size)
        data, mask = status_list.data, (1 << bits) - 1
        for status, indices in indices_by_status.items():
            if isinstance(status, bool) or not 0 <= status <= mask:
                raise StatusListError(f"status {status} does not fit in {bits} bits")
            for index in indices:
                if not 0 <= index < size:
                    raise StatusListError(f"index {index!r} is out of bounds")
                position = index * bits
                byte, shift = position >> 3, position & 7
                data[byte] = (data[byte] & ~(mask << shift) & 0xFF) | (status << shift)
        return status_list

    @property
    def capacity(self) -> int:
        return len(self.data) * 8 // self.bits

    def _locate(self, index: int) -> tuple[int, int]:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.capacity:
            raise StatusListError(f"index {index!r} is out of bounds")
        position = index * self.bits
        return position >> 3, position & 7

    def get(self, index: int) -> int:
        byte, shift = self._locate(index)
        return (self.data[byte] >> shift) & ((1 << self.bits) - 1)

    def set(self, index: int, status: int) -> None:
        mask = (1 << self.bits) - 1
        if not 0 <= status <= mask:
            raise StatusListError(f"status {status} does not fit in {self.bits} bits")
        byte, shift = self._locate(index)
        self.data[byte] = (self.data[byte] & ~(mask << shift) & 0xFF) | (status << shift)

    def compress(self, level: int = 9) -> bytes:
        return zlib_ng.compress(self.data, level)

    def to_json(self) -> dict[str, int | str]:
        """§4.2: ``{"bits": …, "lst": base64url(zlib(data))}``."""
        return {"bits": self.bits, "lst": b64url_encode(self.compress())}

    @classmethod
    def decompress(
        cls,
        bits: int,
        compressed: bytes,
        *,
        max_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
    ) -> StatusList:
        _check_bits(bits)
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(compressed, max_bytes)
        except zlib.error as exc:
            raise StatusListError("lst is not ZLIB data") from exc
        if inflater.unconsumed_tail:
            raise StatusListError(f"Status List decompresses to more than {max_bytes} bytes")
        if not inflater.eof or inflater.unused_data:
            raise StatusListError("lst is truncated or has trailing data")
        return cls(bits, bytearray(data))

    @classmethod
    def from_json(
        cls, value: object, *, max_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES
    ) -> StatusList:
        if not isinstance(value, dict):
            raise StatusListError("status_list must be an object")
        bits, lst = value.get("bits"), value.get("lst")
        if isinstance(bits, bool) or not isinstance(bits, int) or not isinstance(lst, str):
            raise StatusListError("status_list needs integer bits and string lst")
        try:
            compressed = b64url_decode(lst)
        except EncodingError as exc:
            raise StatusListError("lst is not base64url") from exc
        return cls.decompress(bits, compressed, max_bytes=max_bytes)


def _check_bits(bits: int) -> None:
    if isinstance(bits, bool) or bits not in ALLOWED_BITS:
        raise StatusListError(f"bits must be one of {ALLOWED_BITS}")
