"""QR codes for offers: the ``qrcode`` package's default path (best-mask search, its own
SVG image class) beside ours (fixed mask, lean SVG and PNG writers), same payload."""

from __future__ import annotations

import qrcode
import qrcode.image.svg

from bench.measure import Measurement, measure_together
from core.qr import render_qr

OFFER_URI = (
    "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fid.example.gov%2Fissuers"
    "%2Fcivil-registry%2Fcredential-offers%2FfqAyqydzN642xiUX_-xY9aE7E1G5OVScZ738r8MThpw"
)


def run() -> dict[str, Measurement]:
    def reference_svg() -> str:
        image = qrcode.make(OFFER_URI, image_factory=qrcode.image.svg.SvgPathImage)
        rendered: str = image.to_string().decode()
        return rendered

    def ours_svg_and_png() -> object:
        return render_qr(OFFER_URI)

    return measure_together(
        {
            "qrcode package default path (SVG only)": reference_svg,
            "idwallet render_qr (SVG and PNG)": ours_svg_and_png,
        },
        seconds=0.05,
        rounds=8,
    )
