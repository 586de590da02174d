"""The citizen web wallet with an ISO mdoc, in Chromium: it receives the mobile driving
licence (its holder keys made with WebCrypto in the browser), shows the licence's
elements with the agency's labels, and answers the city hall's vehicle registration with
a DeviceResponse whose DeviceAuth the browser signs (the COSE Sig_structure it is handed
as base64url); the consent screen says which elements the counter keeps, and the counter
shows the licence verified, its elements named by the agency's labels."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.issuers.test_catalog import DRIVER
from tests.support.server import RunningServer
from tests.web.conftest import no_serious_accessibility_violations, screenshot
from tests.web.test_wallet_online_issuance import _city_hall_counter
from tests.web.test_wallet_screen import _keys, _scan


def _licence_offer(server: RunningServer, var_dir: Path) -> str:
    created = httpx.post(
        f"{server.base_url}/issuers/transport-agency/offers",
        json={
            "subject_id": "mdl-in-the-browser",
            "credential_configuration_id": "mobile_driving_licence",
            "claims": DRIVER,
        },
        headers={"Authorization": f"Bearer {_keys(var_dir)['transport-agency']}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    uri: str = created.json()["offer_uri"]
    return uri


def test_the_web_wallet_shows_the_mobile_driving_licence(
    page: Page, browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    page.goto(f"{server.base_url}/wallet-app")
    page.get_by_role("button", name="Set up my wallet").click()
    expect(page.get_by_text("No credentials yet")).to_be_visible()
    _scan(page, _licence_offer(server, var_dir))
    expect(page.get_by_role("heading", name="An agency offers you a credential")).to_be_visible()
    page.get_by_role("button", name="Add to my wallet").click()
    expect(page.get_by_role("heading", name="Added to your wallet")).to_be_visible()
    page.get_by_role("button", name="Back").click()
    page.get_by_role("button", name="Open: Mobile driving licence").click()
    expect(page.get_by_role("row", name=f"Family name {DRIVER['family_name']}")).to_be_visible()
    expect(page.get_by_role("row", name="Aged 18 or over true")).to_be_visible()
    screenshot(page, "wallet-mdoc-1-card")
    no_serious_accessibility_violations(page)

    counter = _city_hall_counter(browser, server, var_dir)
    counter.get_by_label("Registering a vehicle in your name").check()
    counter.get_by_role("button", name="Show the QR code").click()
    expect(counter.get_by_role("heading", name="Please scan with your wallet")).to_be_visible()
    _scan(page, counter.locator("#wallet-link").get_attribute("href") or "")
    expect(page.get_by_role("heading", name="Someone asks for your data")).to_be_visible()
    expect(page.get_by_text("kept by the verifier").first).to_be_visible()
    screenshot(page, "wallet-mdoc-2-consent")
    no_serious_accessibility_violations(page)
    page.get_by_role("button", name="Share").click()
    expect(page.get_by_role("heading", name="Shared")).to_be_visible()
    expect(counter.get_by_role("heading", name="Verified")).to_be_visible()
    expect(counter.get_by_text(DRIVER["family_name"]).first).to_be_visible()
    # the elements are named as the agency's metadata names them, not by their identifiers
    expect(counter.get_by_role("row", name=f"Family name {DRIVER['family_name']}")).to_be_visible()
    expect(counter.get_by_role("rowheader", name="Vehicle categories")).to_be_visible()
    screenshot(counter, "counter-mdoc-verified")
    counter.context.close()
