"""QR codes for offers and presentation requests: the ``qrcode`` package encodes (error
correction M, version as small as fits), and lean writers render the module matrix once
as SVG (one path of horizontal runs) and as PNG (1-bit grayscale, RFC 2083), with no
imaging library."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import qrcode
from qrcode.constants import ERROR_CORRECT_M

QUIET_ZONE = 4  # modules of white border, as ISO/IEC 18004 asks
FIXED_MASK = 2
MAX_PAYLOAD = 2048


@dataclass(frozen=True, slots=True)
class QrImages:
    svg: str
    png: bytes
    modules: int


def qr_matrix(text: str) -> list[list[bool]]:
    if len(text) > MAX_PAYLOAD:
        raise ValueError("too much text for a QR code a phone can read")
    # A fixed mask pattern skips the library's trial of all eight (most of its time);
    # any mask is valid for readers (ISO/IEC 18004 §7.8), the trial only tunes contrast.
    code = qrcode.QRCode(
        error_correction=ERROR_CORRECT_M, border=QUIET_ZONE, box_size=1, mask_pattern=FIXED_MASK
    )
    code.add_data(text)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


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
