"""The whole story in Chromium: an agency offers a national ID with a transaction code;
the citizen web wallet (keys made with WebCrypto, kept in the browser) takes a wrong
code, then the right one; the counter asks for ``age_over_18``; the wallet shows who asks
and why, the citizen shares; the counter shows it verified. Then a declined request, the
activity log, and a revoked credential shown as revoked and never offered."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.issuers.test_catalog import CITIZEN
from tests.support.server import RunningServer
from tests.web.conftest import no_serious_accessibility_violations, screenshot


def _keys(var_dir: Path) -> dict[str, str]:
    keys: dict[str, str] = json.loads((var_dir / "operator-keys.json").read_text())
    return keys


def _offer(server: RunningServer, var_dir: Path, subject: str) -> dict[str, str]:
    response = httpx.post(
        f"{server.base_url}/issuers/civil-registry/offers",
        json={
            "subject_id": subject,
            "credential_configuration_id": "national_id",
            "claims": CITIZEN,
            "tx_code": True,
        },
        headers={"Authorization": f"Bearer {_keys(var_dir)['civil-registry']}"},
    )
    offer: dict[str, str] = response.json()
    return offer


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

    offer = _offer(server, var_dir, "citizen-browser")
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
    screenshot(page, "wallet-2-cards")
    no_serious_accessibility_violations(page)

    counter = _counter(browser, server, var_dir)
    _scan(page, counter.locator("#wallet-link").get_attribute("href") or "")
    expect(page.get_by_role("heading", name="Someone asks for your data")).to_be_visible()
    expect(page.locator("#consent-verifier")).to_have_text("Corner Bar")
    expect(page.get_by_text("Why: Serving alcohol only to adults")).to_be_visible()
    screenshot(page, "wallet-3-consent")
    no_serious_accessibility_violations(page)
    page.get_by_role("button", name="Share").click()
    expect(page.get_by_role("heading", name="Shared")).to_be_visible()
    expect(counter.get_by_role("heading", name="Verified")).to_be_visible()
    expect(counter.get_by_role("row", name="age_over_18 yes")).to_be_visible()

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

    revoked = httpx.post(
        f"{server.base_url}/issuers/civil-registry/credentials/revoke",
        json={"subject_id": "citizen-browser"},
        headers={"Authorization": f"Bearer {_keys(var_dir)['civil-registry']}"},
    )
    assert revoked.status_code == 200
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
