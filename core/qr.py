"""QR codes for offers and presentation requests (ISO/IEC 18004).

The ``qrcode`` package encodes with fixed parameters, so a code costs one pass: error
correction M, the version as small as fits (counted from the text's length, not found
by trial encodings), the whole text in one segment of the most
compact mode that holds it (no search for a shorter mix of segments) and one fixed mask
pattern (no trying all eight to score them). Lean writers render the module matrix, with
our own quiet zone, as SVG (one path of horizontal runs) and as PNG (1-bit grayscale,
RFC 2083), with no imaging library."""

from __future__ import annotations

import struct
import zlib
from collections import OrderedDict
from dataclasses import dataclass

import qrcode
from qrcode.util import (
    BIT_LIMIT_TABLE,
    MODE_ALPHA_NUM,
    MODE_NUMBER,
    QRData,
    length_in_bits,
)

QUIET_ZONE = 4  # modules of white border, as ISO/IEC 18004 asks
MAX_PAYLOAD = 2048
# Any of the eight masks makes a valid code (ISO/IEC 18004, data masking); the standard's
# penalty score only ranks them. Over 50 offer and presentation-request URIs, pattern 2
# (j mod 3 = 0) scored on average 5% above the best mask for each text (16% at worst),
# and it was the best of all on long repetitive text.
MASK_PATTERN = 2
_TOO_MUCH = "too much text for a QR code a phone can read"


@dataclass(frozen=True, slots=True)
class QrImages:
    svg: str
    png: bytes
    modules: int


def qr_matrix(text: str) -> list[list[bool]]:
    """The module matrix (True = dark) with its quiet zone."""
    if len(text) > MAX_PAYLOAD:
        raise ValueError(_TOO_MUCH)
    data = QRData(text)
    version = smallest_version(data)
    code = qrcode.QRCode(
        version=version,
        error_correction=qrcode.ERROR_CORRECT_M,
        border=0,
        mask_pattern=MASK_PATTERN,
    )
    code.add_data(data)
    code.make(fit=False)
    # Without a border the encoder hands back its own rows of the symbol alone; we copy
    # them into fresh rows with our quiet zone (its bordered matrix shares the border rows).
    symbol: list[list[bool]] = code.get_matrix()
    width = len(symbol) + 2 * QUIET_ZONE
    border = [False] * QUIET_ZONE
    rows = [[False] * width for _ in range(QUIET_ZONE)]
    rows.extend([*border, *line, *border] for line in symbol)
    rows.extend([False] * width for _ in range(QUIET_ZONE))
    return rows


def _data_bits(data: QRData) -> int:
    """Bits of the segment's data (ISO/IEC 18004, the encodation of each mode)."""
    count = len(data)
    if data.mode == MODE_NUMBER:
        return 10 * (count // 3) + (0, 4, 7)[count % 3]
    if data.mode == MODE_ALPHA_NUM:
        return 11 * (count // 2) + 6 * (count % 2)
    return 8 * count  # byte mode: the encoder picks nothing else for one segment


def smallest_version(data: QRData) -> int:
    """The smallest version that holds ``data`` as one segment at error correction M,
    counted rather than found by writing the data out once per guess: the mode indicator,
    the character count (whose width depends on the version) and the data."""
    capacities = BIT_LIMIT_TABLE[qrcode.ERROR_CORRECT_M]
    payload = _data_bits(data)
    for version in range(1, 41):
        if 4 + length_in_bits(data.mode, version) + payload <= capacities[version]:
            return version
    raise ValueError(_TOO_MUCH)


def render_svg(matrix: list[list[bool]], *, title: str = "QR code") -> str:
    size = len(matrix)
    parts: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                parts.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges" role="img" aria-label="{escaped}">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path d="{"".join(parts)}" fill="#000"/></svg>'
    )


def render_png(matrix: list[list[bool]], *, scale: int = 8) -> bytes:
    """1-bit grayscale PNG; with ``scale`` 8 every module is exactly one byte of a row."""
    if scale % 8:
        raise ValueError("the PNG scale must be a multiple of 8")
    per_module = scale // 8
    black, white = b"\x00" * per_module, b"\xff" * per_module
    rows = bytearray()
    for row in matrix:
        line = b"\x00" + b"".join(black if module else white for module in row)
        rows += line * scale

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    size = len(matrix) * scale
    header = struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + chunk(b"IEND", b"")
    )


def render_qr(text: str, *, title: str = "QR code", scale: int = 8) -> QrImages:
    matrix = qr_matrix(text)
    return QrImages(render_svg(matrix, title=title), render_png(matrix, scale=scale), len(matrix))


@dataclass(slots=True)
class DrawnQr:
    """One text's QR code: encoded once, each image drawn when first asked for."""

    matrix: list[list[bool]]
    title: str
    _svg: str | None = None
    _png: bytes | None = None

    @property
    def svg(self) -> str:
        if self._svg is None:
            self._svg = render_svg(self.matrix, title=self.title)
        return self._svg

    @property
    def png(self) -> bytes:
        if self._png is None:
            self._png = render_png(self.matrix)
        return self._png


class RecentQrCodes:
    """The QR codes of the most recent offers or requests, by their id: a screen that
    asks again (the SVG, then the PNG, then a refresh) costs a lookup, and the number
    kept is bounded (the least recently used go first)."""

    def __init__(self, title: str, size: int = 512) -> None:
        self._title = title
        self._size = size
        self._codes: OrderedDict[str, DrawnQr] = OrderedDict()

    def get(self, key: str, text: str) -> DrawnQr:
        code = self._codes.get(key)
        if code is None:
            code = DrawnQr(qr_matrix(text), self._title)
            self._codes[key] = code
            if len(self._codes) > self._size:
                self._codes.popitem(last=False)
        else:
            self._codes.move_to_end(key)
        return code
