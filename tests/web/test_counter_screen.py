"""The counter screen in Chromium: a clerk opens the bar's counter, asks for
``age_over_18``, a citizen's wallet answers, the screen shows it verified with every check
in plain words; a declined request shows as not verified; the screen speaks German on
request. Every state is checked with axe-core and kept as a screenshot."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.issuers.test_catalog import CITIZEN
from tests.support.server import RunningServer
from tests.wallet.phone import Phone
from tests.web.conftest import no_serious_accessibility_violations, screenshot


def _keys(var_dir: Path) -> dict[str, str]:
    keys: dict[str, str] = json.loads((var_dir / "operator-keys.json").read_text())
    return keys


def _citizen(server: RunningServer, var_dir: Path) -> Phone:
    http = httpx.Client(base_url=server.base_url, timeout=30)
    offer = http.post(
        "/issuers/civil-registry/offers",
        json={
            "subject_id": "citizen-web",
            "credential_configuration_id": "national_id",
            "claims": CITIZEN,
        },
        headers={"Authorization": f"Bearer {_keys(var_dir)['civil-registry']}"},
    ).json()
    phone = Phone(http)
    phone.register()
    phone.receive(offer["offer_uri"])
    return phone


def _open_counter(page: Page, server: RunningServer, var_dir: Path) -> None:
    page.goto(f"{server.base_url}/counter/bar-age-check")
    expect(page.get_by_role("heading", name="Open the counter")).to_be_visible()
    no_serious_accessibility_violations(page)
    page.get_by_label("Counter key").fill(_keys(var_dir)["bar-age-check"])
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_role("heading", name="What do you need to check?")).to_be_visible()
    expect(page.get_by_label("Serving alcohol only to adults")).to_be_checked()


def test_a_clerk_checks_age_over_18(page: Page, server: RunningServer, var_dir: Path) -> None:
    phone = _citizen(server, var_dir)
    page.goto(f"{server.base_url}/counter/bar-age-check")
    page.get_by_label("Counter key").fill("not the key")
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_role("alert")).to_have_text("This key does not open this counter.")
    _open_counter(page, server, var_dir)
    screenshot(page, "counter-1-choose")
    no_serious_accessibility_violations(page)

    page.get_by_role("button", name="Show the QR code").click()
    expect(page.get_by_role("heading", name="Please scan with your wallet")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Waiting for the wallet")
    qr = page.locator("#qr")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot(page, "counter-2-qr")
    no_serious_accessibility_violations(page)
    uri = page.locator("#wallet-link").get_attribute("href")
    assert uri is not None and uri.startswith("openid4vp://")

    consent = phone.scan(uri).json()["presentation"]
    expect(page.get_by_role("status")).to_contain_text("Scanned")
    assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"
    expect(page.get_by_role("heading", name="Verified")).to_be_visible()
    expect(page.get_by_role("row", name="Aged 18 or over yes")).to_be_visible()
    checks = page.locator("#check-list li")
    expect(checks.filter(has_text="Not revoked or suspended")).to_have_class("passed")
    expect(checks.filter(has_text="Signed by Civil Registry")).to_have_class("passed")
    expect(checks.filter(has_text="Everything asked for was answered")).to_have_class("passed")
    expect(checks.filter(has_text="Presented by its holder, just now")).to_have_class("passed")
    assert checks.count() >= 8 and page.locator("#check-list li.failed").count() == 0
    screenshot(page, "counter-3-verified")
    no_serious_accessibility_violations(page)
    page.get_by_role("button", name="Next citizen").click()
    expect(page.get_by_role("heading", name="What do you need to check?")).to_be_visible()


def test_the_result_names_each_proven_claim_in_the_screens_language(
    page: Page, server: RunningServer, var_dir: Path
) -> None:
    """The labels of the credential's Type Metadata (the Civil Registry's catalog), in
    the language the screen shows, switching with it; the claim name only as a fallback."""
    phone = _citizen(server, var_dir)
    _open_counter(page, server, var_dir)
    page.get_by_role("button", name="Show the QR code").click()
    expect(page.get_by_role("heading", name="Please scan with your wallet")).to_be_visible()
    uri = page.locator("#wallet-link").get_attribute("href")
    assert uri is not None
    consent = phone.scan(uri).json()["presentation"]
    assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"
    expect(page.get_by_role("heading", name="Verified")).to_be_visible()
    claims = page.get_by_role("table")
    expect(claims.get_by_role("rowheader")).to_have_text(["Aged 18 or over"])
    expect(claims.get_by_role("row", name="Aged 18 or over yes")).to_be_visible()

    page.get_by_label("Language").select_option("de")
    expect(page.get_by_role("heading", name="Bestätigt")).to_be_visible()
    expect(claims.get_by_role("rowheader")).to_have_text(["Volljährig"])
    expect(claims.get_by_role("row", name="Volljährig ja")).to_be_visible()
    expect(page.locator("#check-list li").filter(has_text="Heute gültig")).to_have_class("passed")
    screenshot(page, "counter-5-verified-de")
    no_serious_accessibility_violations(page)


def test_a_declined_request_shows_not_verified_in_german(
    page: Page, server: RunningServer, var_dir: Path
) -> None:
    phone = _citizen(server, var_dir)
    _open_counter(page, server, var_dir)
    page.get_by_label("Language").select_option("de")
    expect(page.get_by_role("heading", name="Was möchten Sie prüfen?")).to_be_visible()
    expect(page.get_by_label("Alkoholausschank nur an Volljährige")).to_be_checked()
    page.get_by_role("button", name="QR-Code anzeigen").click()
    expect(page.get_by_role("heading", name="Bitte mit der Wallet scannen")).to_be_visible()
    uri = page.locator("#wallet-link").get_attribute("href")
    assert uri is not None
    scanned = phone.scan(uri)
    assert scanned.status_code == 201, scanned.text
    consent = scanned.json()["presentation"]
    phone.post(f"/wallet/presentations/{consent['presentation_id']}/decline")
    expect(page.get_by_role("heading", name="Nicht bestätigt")).to_be_visible()
    screenshot(page, "counter-4-declined-de")
    no_serious_accessibility_violations(page)


def test_the_counter_works_with_the_keyboard_alone(
    page: Page, server: RunningServer, var_dir: Path
) -> None:
    page.goto(f"{server.base_url}/counter/city-hall-counter")
    expect(page.get_by_role("heading", name="Open the counter")).to_be_focused()
    page.keyboard.press("Tab")  # the key field
    page.keyboard.type(_keys(var_dir)["city-hall-counter"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="What do you need to check?")).to_be_focused()
    page.keyboard.press("Tab")  # the first check, chosen already
    page.keyboard.press("ArrowDown")  # the next check
    expect(page.get_by_label("Registering or confirming your address")).to_be_checked()
    page.keyboard.press("Tab")  # past the same-device option
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Please scan with your wallet")).to_be_focused()
    expect(page.locator("#asking-purpose")).to_have_text("Registering or confirming your address")
