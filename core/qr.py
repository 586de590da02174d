"""QR codes for offers and presentation requests (ISO/IEC 18004).

zxing-cpp encodes (in C++): error correction M, the smallest version that holds the text,
its own choice of segments and of the mask the standard's penalty score ranks best, so
that one text always gives one code. Lean writers render the module matrix, with our own
quiet zone, as SVG (one path of horizontal runs) and as PNG (1-bit grayscale, RFC 2083),
with no imaging library."""

from __future__ import annotations

import re
import struct
import zlib
from collections import OrderedDict
from dataclasses import dataclass

import zxingcpp

QUIET_ZONE = 4  # modules of white border, as ISO/IEC 18004 asks
MAX_PAYLOAD = 2048
_TOO_MUCH = "too much text for a QR code a phone can read"
_DARK, _LIGHT = 1, 0
#: A module matrix: one ``bytes`` per row, 1 for a dark module and 0 for a light one.
Matrix = list[bytes]


@dataclass(frozen=True, slots=True)
class QrImages:
    svg: str
    png: bytes
    modules: int


def qr_matrix(text: str) -> Matrix:
    """The module matrix with its quiet zone."""
    if len(text) > MAX_PAYLOAD:
        raise ValueError(_TOO_MUCH)
    try:
        code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    except ValueError as exc:  # the encoder's "input too long"
        raise ValueError(_TOO_MUCH) from exc
    image = memoryview(code.to_image(scale=1, add_quiet_zones=False))  # type: ignore[arg-type]
    size = image.shape[0] if image.shape else 0
    # the image is grayscale, 0 where a module is dark: as modules, 1 where dark
    symbol = image.tobytes().translate(_MODULES)
    border = bytes(QUIET_ZONE)
    light_row = bytes(size + 2 * QUIET_ZONE)
    rows = [light_row] * QUIET_ZONE
    rows.extend(border + symbol[y * size : (y + 1) * size] + border for y in range(size))
    rows.extend([light_row] * QUIET_ZONE)
    return rows


#: grayscale to modules: 0 (black) is dark, anything else light
_MODULES = bytes([_DARK] + [_LIGHT] * 255)


#: A run of dark modules in a row of the matrix.
_DARK_RUN = re.compile(bytes([_DARK]) + b"+")
#: The largest symbol (version 40) with its quiet zone, in modules.
_LARGEST = 177 + 2 * QUIET_ZONE
#: Path pieces made once: a run's move to its column, and the rectangle of its width.
_MOVES = [f"M{x} " for x in range(_LARGEST + 1)]
_RECTANGLES = [f"h{w}v1h-{w}z" for w in range(_LARGEST + 1)]


def render_svg(matrix: Matrix, *, title: str = "QR code") -> str:
    """One path of one-module-high rectangles, one per run of dark modules in a row."""
    size = len(matrix)
    parts: list[str] = []
    add = parts.append
    for y, row in enumerate(matrix):
        line = str(y)
        for run in _DARK_RUN.finditer(row):
            start, end = run.span()
            add(_MOVES[start])
            add(line)
            add(_RECTANGLES[end - start])
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges" role="img" aria-label="{escaped}">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path d="{"".join(parts)}" fill="#000"/></svg>'
    )


def render_png(matrix: Matrix, *, scale: int = 8) -> bytes:
    """1-bit grayscale PNG; with ``scale`` 8 every module is exactly one byte of a row."""
    if scale % 8:
        raise ValueError("the PNG scale must be a multiple of 8")
    per_module = scale // 8
    # one byte (eight pixels) per module and eight bytes per row: 0 black, 255 white
    to_pixels = bytes([255] + [0] * 255)
    rows = bytearray()
    for row in matrix:
        pixels = row.translate(to_pixels)
        line = b"\x00" + (pixels if per_module == 1 else bytes(_widened(pixels, per_module)))
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


def _widened(pixels: bytes, times: int) -> bytearray:
    wide = bytearray()
    for value in pixels:
        wide += bytes((value,)) * times
    return wide


def render_qr(text: str, *, title: str = "QR code", scale: int = 8) -> QrImages:
    matrix = qr_matrix(text)
    return QrImages(render_svg(matrix, title=title), render_png(matrix, scale=scale), len(matrix))


@dataclass(slots=True)
class DrawnQr:
    """One text's QR code: encoded once, each image drawn when first asked for."""

    matrix: Matrix
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
    kept is bounded (the least recently used go first). The text of a code about to be
    asked for can be remembered beforehand (``expect``), to be drawn when it is."""

    def __init__(self, title: str, size: int = 512) -> None:
        self._title = title
        self._size = size
        self._codes: OrderedDict[str, DrawnQr] = OrderedDict()
        self._texts: OrderedDict[str, tuple[str, float]] = OrderedDict()

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

    def expect(self, key: str, text: str, until: float) -> None:
        """``key`` will carry ``text`` when asked for before ``until``."""
        self._texts[key] = (text, until)
        if len(self._texts) > self._size:
            self._texts.popitem(last=False)

    def expected(self, key: str, now: float) -> DrawnQr | None:
        """The code of a text remembered by ``expect`` and not past its time; None when
        there is none (the caller looks the text up)."""
        remembered = self._texts.get(key)
        if remembered is None or remembered[1] <= now:
            return None
        return self.get(key, remembered[0])
