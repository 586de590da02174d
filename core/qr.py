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
MAX_PAYLOAD = 2048


@dataclass(frozen=True, slots=True)
class QrImages:
    svg: str
    png: bytes
    modules: int


def qr_matrix(text: str) -> list[list[bool]]:
    if len(text) > MAX_PAYLOAD:
        raise ValueError("too much text for a QR code a phone can read")
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE, box_size=1)
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
    size = len(matrix) * scale
    rows = bytearray()
    for row in matrix:
        bits = 0
        line = bytearray()
        count = 0
        for module in row:
            for _ in range(scale):
                bits = (bits << 1) | (0 if module else 1)  # 1 = white in grayscale
                count += 1
                if count == 8:
                    line.append(bits)
                    bits, count = 0, 0
        if count:
            line.append(bits << (8 - count))
        encoded = b"\x00" + bytes(line)
        rows.extend(encoded * scale)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

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
