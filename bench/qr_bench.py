"""QR codes: the ``qrcode`` package's default path (search for a shorter mix of segments,
all eight masks tried and scored, its own SVG image class) beside ours (zxing-cpp's
encoder; lean SVG and PNG writers) for an offer, and the counter's SVG for a presentation
request."""

from __future__ import annotations

import qrcode
import qrcode.image.svg

from bench.measure import Measurement, measure_together
from core.qr import qr_matrix, render_qr, render_svg

OFFER_URI = (
    "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fid.example.gov%2Fissuers"
    "%2Fcivil-registry%2Fcredential-offers%2FfqAyqydzN642xiUX_-xY9aE7E1G5OVScZ738r8MThpw"
)

REQUEST_URI = (
    "openid4vp://?client_id=x509_hash%3AUvo3HtuIxuhC92rShpgqcT3YXwrqRxWEviRiA0OZszk"
    "&request_uri=https%3A%2F%2Fid.example.gov%2Fverifiers%2Fcity-hall-counter%2Frequests"
    "%2FAbCdEfGhIjKlMnOpQrStUvWxYz012345"
)
REQUEST_QR = "idwallet presentation request QR (SVG only)"


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
            REQUEST_QR: lambda: render_svg(qr_matrix(REQUEST_URI)),
        },
        seconds=0.05,
        rounds=8,
    )


if __name__ == "__main__":
    # alone: the QR codes' section of docs/benchmarks.md rewritten in place
    from bench.__main__ import OUTPUT
    from bench.report import qr_section
    from bench.sections import splice_section

    section = qr_section(run())
    OUTPUT.write_text(splice_section(OUTPUT.read_text(encoding="utf-8"), section), encoding="utf-8")
    print("\n".join(section))
