"""What the wallet keeps of an issuer's display data: bounded entries, and logos only as
an https URL or a small inline image, whole or not at all."""

from __future__ import annotations

from wallet.services.display import MAX_LOGO_URI, safe_display

PNG = "data:image/png;base64," + "A" * 4000


def _logo(uri: str) -> list[dict[str, object]]:
    return safe_display([{"name": "Agency", "locale": "en", "logo": {"uri": uri, "alt_text": "x"}}])


def test_https_and_inline_image_logos_are_kept_whole() -> None:
    assert _logo(PNG)[0]["logo"] == {"uri": PNG, "alt_text": "x"}
    assert _logo("https://agency.example/logo.png")[0]["logo"]["uri"].endswith("logo.png")


def test_other_or_oversized_logos_are_dropped_not_cut() -> None:
    for uri in (
        "javascript:alert(1)",
        "http://agency.example/logo.png",
        "data:image/svg+xml;base64,PHN2Zz4=",
        "data:text/html;base64,PGgxPg==",
        "data:image/png;base64," + "A" * MAX_LOGO_URI,
    ):
        entry = _logo(uri)[0]
        assert "logo" not in entry, uri
        assert entry["name"] == "Agency"
