"""The README's walk in Chromium: a citizen who got the national ID at the desk gets a
driving licence at home. The citizen web wallet asks the transport agency for the licence
(wallet-initiated, authorization code flow with PAR, PKCE, the wallet attestation and
DPoP), the agency's page asks for the national ID, the citizen opens the request in the
wallet on this device, shares what is asked, and the agency sends the browser back to
the wallet with the code; the licence carries the register's data. Kept as screenshots,
checked with axe-core."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.support.server import RunningServer
from tests.web.conftest import no_serious_accessibility_violations, screenshot
from tests.web.test_wallet_screen import _desk, _keys, _offer_at_the_desk, _scan


def _national_id_at_the_desk(
    page: Page, browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    page.goto(f"{server.base_url}/wallet-app")
    page.get_by_role("button", name="Set up my wallet").click()
    expect(page.get_by_text("No credentials yet")).to_be_visible()
    offer = _offer_at_the_desk(_desk(browser, server, var_dir), "demo-citizen")
    _scan(page, offer["offer_uri"])
    page.get_by_label("Transaction code (sent to you separately)").fill(offer["tx_code"])
    page.get_by_role("button", name="Add to my wallet").click()
    expect(page.get_by_role("heading", name="Added to your wallet")).to_be_visible()


def test_a_driving_licence_at_home_after_showing_the_national_id(
    page: Page, browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    _national_id_at_the_desk(page, browser, server, var_dir)

    page.get_by_role("button", name="Get a credential").click()
    expect(page.get_by_role("heading", name="Get a credential")).to_be_visible()
    get_licence = page.get_by_role("button", name="Get: Driving licence", exact=True)
    expect(get_licence).to_be_visible()
    screenshot(page, "wallet-online-1-issuers")
    no_serious_accessibility_violations(page)
    get_licence.click()

    # the agency's page: it asks for the national ID before it issues
    expect(page.get_by_role("heading", name="Transport Agency asks", exact=False)).to_be_visible()
    page.get_by_role("button", name="My wallet is on this device").click()

    # the wallet on this device shows who asks, and why
    expect(page.get_by_role("heading", name="Someone asks for your data")).to_be_visible()
    expect(page.get_by_text("before issuing it to your wallet", exact=False)).to_be_visible()
    # and, as the registrar attests, that the agency asks in order to issue the licence
    # this wallet waits for
    expect(page.locator("#consent-issuance-text")).to_have_text(
        "Transport Agency asks for this in order to issue you Driving licence"
    )
    expect(page.locator("#consent-issuance-waiting")).to_have_text(
        "You asked Transport Agency for it in this wallet; the issuance waits for this step."
    )
    screenshot(page, "wallet-online-2-consent")
    no_serious_accessibility_violations(page)
    page.get_by_role("button", name="Share").click()

    # back at the agency, then back at the wallet with the code: the licence arrives
    expect(page.get_by_role("heading", name="Added to your wallet")).to_be_visible(timeout=20_000)
    expect(page.locator("#done-text")).to_have_text("Driving licence")
    assert page.url.endswith("/wallet-app")  # the code left the address bar
    screenshot(page, "wallet-online-3-received")
    page.get_by_role("button", name="Back").click()
    expect(page.locator("#cards li")).to_have_count(2)
    page.get_by_role("button", name="Activity").click()
    activity = page.get_by_role("region", name="Activity")
    expect(activity.get_by_text("Credential added — Transport Agency")).to_be_visible()
    expect(activity.get_by_text("Driving licence", exact=False).first).to_be_visible()

    # the licence is one-time: each copy is shown once, and this device, which keeps its
    # keys, asks the agency for fresh copies before they run out
    page.get_by_role("button", name="Credentials").click()
    page.get_by_role("button", name="Open: Driving licence").click()
    expect(page.locator("#card-copies")).to_have_text("Copies not shown to anyone yet: 3")
    counter = _city_hall_counter(browser, server, var_dir)
    for _ in range(2):
        counter.get_by_label("Registering a vehicle in your name").check()
        counter.get_by_role("button", name="Show the QR code").click()
        expect(counter.get_by_role("heading", name="Please scan with your wallet")).to_be_visible()
        _scan(page, counter.locator("#wallet-link").get_attribute("href") or "")
        page.get_by_role("button", name="Share").click()
        expect(counter.get_by_role("heading", name="Verified")).to_be_visible()
        counter.get_by_role("button", name="Next citizen").click()
    for _ in range(40):  # the wallet renews in the background when it opens
        page.get_by_role("button", name="Credentials").click()
        page.get_by_role("button", name="Open: Driving licence").click()
        if page.locator("#card-copies").inner_text().endswith(": 4"):
            break
        page.wait_for_timeout(250)
    expect(page.locator("#card-copies")).to_have_text("Copies not shown to anyone yet: 4")
    counter.context.close()


def _city_hall_counter(browser: Browser, server: RunningServer, var_dir: Path) -> Page:
    counter = browser.new_context(locale="en-GB").new_page()
    counter.goto(f"{server.base_url}/counter/city-hall-counter")
    counter.get_by_label("Counter key").fill(_keys(var_dir)["city-hall-counter"])
    counter.get_by_role("button", name="Open").click()
    return counter


def test_a_return_that_is_no_issuance_of_this_wallet_is_explained(
    page: Page, server: RunningServer
) -> None:
    page.goto(f"{server.base_url}/wallet-app")
    page.get_by_role("button", name="Set up my wallet").click()
    expect(page.get_by_text("No credentials yet")).to_be_visible()
    page.goto(
        f"{server.base_url}/wallet/callback?code=abc&state=00000000-0000-0000-0000-"
        f"000000000000.forged&iss={server.base_url}/issuers/transport-agency"
    )
    expect(page.get_by_role("alert")).to_contain_text("was not opened by an issuance")
    no_serious_accessibility_violations(page)
