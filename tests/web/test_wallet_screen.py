"""The whole story in Chromium: an agency clerk offers a national ID at the desk, with a
transaction code, from the agency's data;
the citizen web wallet (keys made with WebCrypto, kept in the browser) takes a wrong
code, then the right one; the counter asks for ``age_over_18``; the wallet shows who asks
and why, the citizen shares; the counter shows it verified. Then a declined request, the
activity log, and a revoked credential shown as revoked and never offered."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.issuers.test_catalog import CITIZEN
from tests.support.server import RunningServer
from tests.web.conftest import no_serious_accessibility_violations, screenshot


def _keys(var_dir: Path) -> dict[str, str]:
    keys: dict[str, str] = json.loads((var_dir / "operator-keys.json").read_text())
    return keys


def _desk(browser: Browser, server: RunningServer, var_dir: Path) -> Page:
    desk = browser.new_context(locale="en-GB").new_page()
    desk.goto(f"{server.base_url}/desk/civil-registry")
    expect(desk.get_by_role("heading", name="Open the desk")).to_be_visible()
    no_serious_accessibility_violations(desk)
    desk.get_by_label("Operator key").fill(_keys(var_dir)["civil-registry"])
    desk.get_by_role("button", name="Open").click()
    expect(desk.get_by_role("heading", name="New offer")).to_be_visible()
    return desk


def _offer_at_the_desk(desk: Page, subject: str) -> dict[str, str]:
    """The clerk enters the citizen's data as the register holds it and makes the offer."""
    desk.get_by_label("Citizen number in the agency's register").fill(subject)
    for name, value in CITIZEN.items():
        if name == "address":
            for part, text in value.items():
                desk.locator(f'fieldset[data-object="address"] input[data-name="{part}"]').fill(
                    text
                )
        elif isinstance(value, bool):
            desk.locator(f'#claim-fields > div > input[data-name="{name}"]').set_checked(value)
        else:
            desk.locator(f'#claim-fields > div > input[data-name="{name}"]').fill(str(value))
    screenshot(desk, "desk-1-citizen")
    no_serious_accessibility_violations(desk)
    desk.get_by_role("button", name="Create the offer").click()
    expect(desk.get_by_role("heading", name="The offer is ready")).to_be_visible()
    code = desk.locator("#tx-code").inner_text()
    assert code.isdigit()
    screenshot(desk, "desk-2-offer")
    no_serious_accessibility_violations(desk)
    desk.emulate_media(media="print")  # the letter: the QR code, never the transaction code
    expect(desk.locator("#offer-qr")).to_be_visible()
    expect(desk.locator("#code-panel")).to_be_hidden()
    expect(desk.get_by_role("button", name="Print the letter")).to_be_hidden()
    screenshot(desk, "desk-2b-letter")
    desk.emulate_media(media="screen")
    uri = desk.locator("#offer-qr").get_attribute("data-uri") or ""
    return {"offer_uri": uri, "tx_code": code}


def _counter(browser: Browser, server: RunningServer, var_dir: Path) -> Page:
    counter = browser.new_context(locale="en-GB").new_page()
    counter.goto(f"{server.base_url}/counter/bar-age-check")
    counter.get_by_label("Counter key").fill(_keys(var_dir)["bar-age-check"])
    counter.get_by_role("button", name="Open").click()
    counter.get_by_role("button", name="Show the QR code").click()
    expect(counter.get_by_role("heading", name="Please scan with your wallet")).to_be_visible()
    return counter


def _scan(page: Page, text: str) -> None:
    page.get_by_role("button", name="Scan").click()
    page.get_by_label("Text of the QR code").fill(text)
    page.get_by_role("button", name="Continue").click()


def test_the_whole_story(
    page: Page, browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    page.goto(f"{server.base_url}/wallet-app")
    expect(page.get_by_role("heading", name="Set up this device")).to_be_visible()
    no_serious_accessibility_violations(page)
    page.get_by_role("button", name="Set up my wallet").click()
    expect(page.get_by_text("No credentials yet")).to_be_visible()

    desk = _desk(browser, server, var_dir)
    offer = _offer_at_the_desk(desk, "citizen-browser")
    _scan(page, offer["offer_uri"])
    expect(page.get_by_role("heading", name="An agency offers you a credential")).to_be_visible()
    expect(page.get_by_text("Civil Registry")).to_be_visible()
    screenshot(page, "wallet-1-offer")
    no_serious_accessibility_violations(page)
    page.get_by_label("Transaction code (sent to you separately)").fill("000000")
    page.get_by_role("button", name="Add to my wallet").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That code is not right. Please check it and try again."
    )
    page.get_by_label("Transaction code (sent to you separately)").fill(offer["tx_code"])
    page.get_by_role("button", name="Add to my wallet").click()
    expect(page.get_by_role("heading", name="Added to your wallet")).to_be_visible()
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_text("Status: valid")).to_be_visible()
    card = page.locator("#cards li").first
    assert card.evaluate("li => getComputedStyle(li).backgroundColor") == "rgb(31, 58, 95)"
    screenshot(page, "wallet-2-cards")
    no_serious_accessibility_violations(page)

    counter = _counter(browser, server, var_dir)
    _scan(page, counter.locator("#wallet-link").get_attribute("href") or "")
    expect(page.get_by_role("heading", name="Someone asks for your data")).to_be_visible()
    expect(page.locator("#consent-verifier")).to_have_text("Corner Bar")
    expect(page.get_by_text("Why: Serving alcohol only to adults")).to_be_visible()
    expect(page.locator("#consent-issuance")).to_be_hidden()  # the bar issues nothing
    screenshot(page, "wallet-3-consent")
    no_serious_accessibility_violations(page)
    page.get_by_role("button", name="Share").click()
    expect(page.get_by_role("heading", name="Shared")).to_be_visible()
    expect(counter.get_by_role("heading", name="Verified")).to_be_visible()
    expect(counter.get_by_role("row", name="Aged 18 or over yes")).to_be_visible()

    counter.get_by_role("button", name="Next citizen").click()
    counter.get_by_role("button", name="Show the QR code").click()
    expect(counter.get_by_role("heading", name="Please scan with your wallet")).to_be_visible()
    _scan(page, counter.locator("#wallet-link").get_attribute("href") or "")
    page.get_by_role("button", name="Decline").click()
    expect(page.get_by_role("heading", name="Declined: nothing was shared")).to_be_visible()
    expect(counter.get_by_role("heading", name="Not verified")).to_be_visible()

    page.get_by_role("button", name="Activity").click()
    entries = page.locator("#activity-list li")
    expect(entries.first).to_contain_text("Request declined")
    expect(entries.nth(1)).to_contain_text("Data shared — Corner Bar")
    screenshot(page, "wallet-4-activity")
    no_serious_accessibility_violations(page)

    desk.get_by_role("button", name="Back to the citizen").click()
    expect(desk.get_by_role("cell", name="valid")).to_be_visible()
    desk.get_by_label("Reason (kept in the audit trail)").fill("reported stolen")
    desk.get_by_role("button", name="Revoke: National identity card").click()
    expect(desk.get_by_role("cell", name="revoked")).to_be_visible()
    screenshot(desk, "desk-3-revoked")
    no_serious_accessibility_violations(desk)
    audit = httpx.get(
        f"{server.base_url}/issuers/civil-registry/audit",
        headers={"Authorization": f"Bearer {_keys(var_dir)['civil-registry']}"},
    ).json()
    assert "reported stolen" in json.dumps(audit)
    for _ in range(40):  # the wallet sees it once its cached status list ages out (ttl 5 s)
        page.get_by_role("button", name="Credentials").click()
        if page.get_by_text("Status: revoked").is_visible():
            break
        page.wait_for_timeout(250)
    expect(page.get_by_text("Status: revoked")).to_be_visible()
    counter.get_by_role("button", name="Next citizen").click()
    counter.get_by_role("button", name="Show the QR code").click()
    expect(counter.get_by_role("heading", name="Please scan with your wallet")).to_be_visible()
    _scan(page, counter.locator("#wallet-link").get_attribute("href") or "")
    expect(page.get_by_text("None of your credentials can answer this.")).to_be_visible()
    expect(page.get_by_role("button", name="Share")).to_be_disabled()
    page.get_by_role("button", name="Decline").click()
    expect(counter.get_by_role("heading", name="Not verified")).to_be_visible()
    screenshot(counter, "counter-5-revoked")
    counter.context.close()

    page.get_by_role("button", name="Credentials").click()
    page.get_by_role("button", name="Open: National identity card").click()
    page.get_by_role("button", name="Delete this credential").click()
    expect(page.get_by_text("No credentials yet")).to_be_visible()
    page.get_by_role("button", name="Settings").click()
    page.get_by_role("button", name="Delete my wallet and everything in it").click()
    expect(page.get_by_role("heading", name="Set up this device")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Set up this device")).to_be_visible()


def test_the_desk_fills_in_what_the_register_holds(
    browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    desk = browser.new_context(locale="en-GB").new_page()
    desk.goto(f"{server.base_url}/desk/transport-agency")
    desk.get_by_label("Operator key").fill(_keys(var_dir)["transport-agency"])
    desk.get_by_role("button", name="Open").click()
    desk.get_by_label("Citizen number in the agency's register").fill("demo-citizen")
    desk.get_by_role("button", name="Look up").click()
    fields = desk.locator("#claim-fields")
    expect(fields.locator('input[data-name="family_name"]').first).to_have_value("Mustermann")
    rows = fields.locator("fieldset[data-array] .row-group")
    expect(rows).to_have_count(2)
    expect(rows.nth(1).locator('input[data-name="vehicle_category_code"]')).to_have_value("A")
    no_serious_accessibility_violations(desk)
    desk.get_by_role("button", name="Create the offer").click()
    expect(desk.get_by_role("heading", name="The offer is ready")).to_be_visible()
    assert (desk.locator("#offer-qr").get_attribute("data-uri") or "").startswith(
        "openid-credential-offer://"
    )
    desk.context.close()


def test_the_desk_offers_a_credential_by_signing_in_online(
    browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    """The clerk chooses online sign-in: the offer carries the authorization code grant
    with its issuer_state (OpenID4VCI 1.0 §4.1.1), and no transaction code."""
    desk = browser.new_context(locale="en-GB").new_page()
    desk.goto(f"{server.base_url}/desk/transport-agency")
    desk.get_by_label("Operator key").fill(_keys(var_dir)["transport-agency"])
    desk.get_by_role("button", name="Open").click()
    desk.get_by_label("Citizen number in the agency's register").fill("demo-citizen")
    desk.get_by_role("button", name="Look up").click()
    expect(desk.locator('#claim-fields input[data-name="family_name"]').first).to_have_value(
        "Mustermann"
    )
    desk.get_by_label("By signing in online with their wallet").check()
    expect(desk.get_by_label("Protect with a transaction code sent separately")).to_be_disabled()
    no_serious_accessibility_violations(desk)
    desk.get_by_role("button", name="Create the offer").click()
    expect(desk.get_by_role("heading", name="The offer is ready")).to_be_visible()
    expect(desk.locator("#code-panel")).to_be_hidden()
    uri = desk.locator("#offer-qr").get_attribute("data-uri") or ""
    reference = parse_qs(urlsplit(uri).query)["credential_offer_uri"][0]
    assert reference.startswith(server.base_url)
    offer = httpx.get(reference).json()
    grants = offer["grants"]
    assert list(grants) == ["authorization_code"]
    assert grants["authorization_code"]["issuer_state"]
    desk.context.close()


def test_the_camera_reads_a_code_where_the_browser_can(
    browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    """Chromium's fake camera stands in for the phone's; the QR reader is the browser's
    BarcodeDetector where it has one, replaced here by one that sees a given code (the
    desktop build has none), so what is tested is the wallet's own wiring."""
    desk = _desk(browser, server, var_dir)
    desk.get_by_label("Citizen number in the agency's register").fill("demo-citizen")
    desk.get_by_role("button", name="Look up").click()
    desk.get_by_label("Protect with a transaction code sent separately").uncheck()
    desk.get_by_role("button", name="Create the offer").click()
    expect(desk.get_by_role("heading", name="The offer is ready")).to_be_visible()
    uri = desk.locator("#offer-qr").get_attribute("data-uri") or ""
    assert uri.startswith("openid-credential-offer://")
    context = browser.new_context(locale="en-GB", permissions=["camera"])
    context.add_init_script(
        "window.BarcodeDetector = class { constructor() {} "
        f"async detect() {{ return [{{ rawValue: {json.dumps(uri)} }}]; }} }};"
    )
    page = context.new_page()
    page.goto(f"{server.base_url}/wallet-app")
    page.get_by_role("button", name="Set up my wallet").click()
    expect(page.get_by_text("No credentials yet")).to_be_visible()
    page.get_by_role("button", name="Scan").click()
    page.get_by_role("button", name="Use the camera").click()
    expect(page.get_by_role("heading", name="An agency offers you a credential")).to_be_visible()
    page.get_by_role("button", name="Add to my wallet").click()
    expect(page.get_by_role("heading", name="Added to your wallet")).to_be_visible()
    context.close()
    desk.context.close()
