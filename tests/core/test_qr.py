"""QR rendering: the module matrix is the qrcode package's own; SVG and PNG carry it."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zlib

import pytest
import qrcode
from qrcode.constants import ERROR_CORRECT_M

from core.qr import FIXED_MASK, QUIET_ZONE, qr_matrix, render_png, render_qr, render_svg

OFFER = "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fid.example.gov%2Fissuers%2Fcivil-registry%2Fcredential-offers%2FfqAyqydzN642xiUX_-xY9aE7E1G5OVScZ738r8MThpw"


def test_matrix_is_the_libraries_own() -> None:
    reference = qrcode.QRCode(
        error_correction=ERROR_CORRECT_M, border=QUIET_ZONE, mask_pattern=FIXED_MASK
    )
    reference.add_data(OFFER)
    reference.make(fit=True)
    assert qr_matrix(OFFER) == reference.get_matrix()


def _png_pixels(png: bytes) -> tuple[int, list[bytes]]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    position, idat, width = 8, b"", 0
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        data = png[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", png[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + data)
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", data[:10])
            assert (width, height, depth, color) == (width, width, 1, 0)
        elif kind == b"IDAT":
            idat += data
        position += 12 + length
    raw = zlib.decompress(idat)
    stride = width // 8 + 1
    return width, [raw[i * stride + 1 : (i + 1) * stride] for i in range(width)]


def test_png_pixels_follow_the_matrix() -> None:
    matrix = qr_matrix(OFFER)
    width, rows = _png_pixels(render_png(matrix))
    assert width == len(matrix) * 8
    for y, row in enumerate(matrix):
        pixels = rows[y * 8]
        assert [pixels[x] == 0 for x in range(len(row))] == row


def test_svg_draws_every_dark_module() -> None:
    matrix = qr_matrix(OFFER)
    root = ET.fromstring(render_svg(matrix, title='Scan <me> & "go"'))
    assert root.get("aria-label") == 'Scan <me> & "go"'
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    drawn = 0
    for command in path.get("d", "").split("z")[:-1]:
        _, _, rest = command.partition("h")
        drawn += int(rest.split("v")[0])
    assert drawn == sum(sum(row) for row in matrix)


def test_limits() -> None:
    with pytest.raises(ValueError):
        qr_matrix("x" * 3000)
    with pytest.raises(ValueError):
        render_png(qr_matrix("x"), scale=3)
    images = render_qr(OFFER)
    assert images.modules == len(qr_matrix(OFFER))
