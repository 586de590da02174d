"""QR rendering: what we draw is read back by a decoder (zxing-cpp's own reader; its
encoder is Zint's, so the two share no code), including from the PNG we write; SVG and PNG carry the matrix."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
import zlib

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st

from core.qr import (
    MAX_PAYLOAD,
    QUIET_ZONE,
    qr_matrix,
    render_png,
    render_qr,
    render_svg,
)

OFFER = "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fid.example.gov%2Fissuers%2Fcivil-registry%2Fcredential-offers%2FfqAyqydzN642xiUX_-xY9aE7E1G5OVScZ738r8MThpw"
# What a counter's QR code carries (OpenID4VP 1.0 §5.10), with and without the POST method.
REQUEST = "openid4vp://?client_id=x509_hash%3AUvo3HtuIxuhC92rShpgqcT3YXwrqRxWEviRiA0OZszk&request_uri=https%3A%2F%2Fid.example.gov%2Fverifiers%2Fcity-hall-counter%2Frequests%2FAbCdEfGhIjKlMnOpQrStUvWxYz012345"
REQUEST_POST = REQUEST + "&request_uri_method=post"
# The longest text we accept, as an offer by value would look (lower case: byte mode).
LONGEST = ("openid-credential-offer://?credential_offer=" + "%7B%22a%22%3A1%7D" * 200)[:MAX_PAYLOAD]


def _decoded(rows: list[bytes]) -> str:
    """What a reader sees in these grayscale rows."""
    width = len(rows[0])
    image = memoryview(b"".join(rows)).cast("B", (len(rows), width))
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1
    text: str = found[0].text
    return text


def _matrix_pixels(matrix: list[bytes], scale: int = 4) -> list[bytes]:
    rows = []
    for row in matrix:
        line = b"".join((b"\x00" if dark else b"\xff") * scale for dark in row)
        rows.extend([line] * scale)
    return rows


@settings(max_examples=40, deadline=None)
@given(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=400)
)
def test_every_payload_reads_back(text: str) -> None:
    matrix = qr_matrix(text)
    assert all(not any(row) for row in matrix[:QUIET_ZONE])
    assert _decoded(_matrix_pixels(matrix)) == text


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


def decode_png_qr(png: bytes) -> str:
    """Read a QR code PNG of ours (1-bit, eight pixels per byte) as a phone would."""
    _, rows = _png_pixels(png)
    return _decoded([bytes(value for value in row for _ in range(8)) for row in rows])


def test_png_pixels_follow_the_matrix() -> None:
    matrix = qr_matrix(OFFER)
    width, rows = _png_pixels(render_png(matrix))
    assert width == len(matrix) * 8
    for y, row in enumerate(matrix):
        pixels = rows[y * 8]
        assert [pixels[x] == 0 for x in range(len(row))] == [module == 1 for module in row]
    # every packed byte is eight equal pixels: unpack to grayscale and read it back
    assert decode_png_qr(render_png(matrix)) == OFFER


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
    with pytest.raises(ValueError, match="too much text"):
        qr_matrix("😀" * 700)  # within MAX_PAYLOAD characters, but 2800 bytes of UTF-8
    assert _decoded(_matrix_pixels(qr_matrix("€" * 1000), scale=2)) == "€" * 1000
    with pytest.raises(ValueError):
        render_png(qr_matrix("x"), scale=3)
    images = render_qr(OFFER)
    assert images.modules == len(qr_matrix(OFFER))


@pytest.mark.parametrize(
    "text",
    [
        "x",
        "0123456789",
        "HTTPS://ID.EXAMPLE.GOV/A",
        "Bürgeramt München",
        OFFER,
        REQUEST,
        REQUEST_POST,
        LONGEST,
    ],
    ids=[
        "one-char",
        "numeric",
        "alphanumeric",
        "utf-8",
        "offer",
        "request",
        "request-post",
        "longest",
    ],
)
def test_the_png_we_serve_scans_to_the_exact_text(text: str) -> None:
    images = render_qr(text)
    assert decode_png_qr(images.png) == text
    assert _decoded(_matrix_pixels(qr_matrix(text), scale=2)) == text


def test_the_longest_payload_and_one_more() -> None:
    assert len(LONGEST) == MAX_PAYLOAD
    assert len(qr_matrix(LONGEST)) == 4 * 38 + 17 + 2 * QUIET_ZONE  # 2048 bytes need version 38-M
    with pytest.raises(ValueError):
        qr_matrix(LONGEST + "x")


@pytest.mark.parametrize(
    ("length", "version"),
    # byte-mode capacities at error correction M (ISO/IEC 18004 Table 7): the smallest
    # version that holds the text, and one more byte needs the next
    [(14, 1), (15, 2), (180, 9), (181, 10), (213, 10), (214, 11)],
)
def test_version_is_the_smallest_that_fits_at_level_m(length: int, version: int) -> None:
    assert len(qr_matrix("x" * length)) == 4 * version + 17 + 2 * QUIET_ZONE


def test_matrix_is_ours_to_keep() -> None:
    """Rows of modules (1 dark, 0 light), the quiet zone on every side."""
    matrix = qr_matrix(REQUEST)
    size = len(matrix)
    assert all(type(row) is bytes and len(row) == size for row in matrix)
    assert all(module in (0, 1) for row in matrix for module in row)
    for row in matrix[:QUIET_ZONE] + matrix[-QUIET_ZONE:]:
        assert not any(row)
    for row in matrix:
        assert not any(row[:QUIET_ZONE]) and not any(row[-QUIET_ZONE:])
    # the finder pattern's dark corner sits just inside the quiet zone
    assert matrix[QUIET_ZONE][QUIET_ZONE] and matrix[QUIET_ZONE][size - QUIET_ZONE - 1]
    assert qr_matrix(REQUEST) == matrix  # one text, one code
