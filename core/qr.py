"""QR codes for offers and presentation requests: zxing-cpp encodes (error correction M,
version as small as fits; compiled code, so a counter can show a fresh code for every
request), and lean writers render the module matrix once as SVG (one path of horizontal
runs) and as PNG (1-bit grayscale, RFC 2083), with no imaging library."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import zxingcpp

QUIET_ZONE = 4  # modules of white border, as ISO/IEC 18004 asks
MAX_PAYLOAD = 2048


@dataclass(frozen=True, slots=True)
class QrImages:
    svg: str
    png: bytes
    modules: int


def qr_matrix(text: str) -> list[list[bool]]:
    """The module matrix (True = dark) with its quiet zone."""
    if len(text) > MAX_PAYLOAD:
        raise ValueError("too much text for a QR code a phone can read")
    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = symbol.to_image(scale=1, add_quiet_zones=False)
    pixels = memoryview(image)  # type: ignore[arg-type]  # the image exports the buffer protocol
    assert pixels.shape is not None
    height, width = pixels.shape
    data = pixels.tobytes()
    blank = [False] * (width + 2 * QUIET_ZONE)
    border = [False] * QUIET_ZONE
    rows = [blank[:] for _ in range(QUIET_ZONE)]
    for y in range(height):
        line = data[y * width : (y + 1) * width]
        rows.append([*border, *(value < 128 for value in line), *border])
    rows.extend(blank[:] for _ in range(QUIET_ZONE))
    return rows


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
