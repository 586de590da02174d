"""Same device, in Chromium: an online service (the bank) asks for identity on the very
device that holds the wallet; "open my wallet" hands the request to the web wallet, the
citizen shares, the wallet sends the citizen back, and the service's own browser session,
and no other, collects the result once."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.issuers.test_catalog import CITIZEN
from tests.support.server import RunningServer
from tests.web.conftest import no_serious_accessibility_violations, screenshot


def test_an_online_service_on_the_citizens_device(
    page: Page, server: RunningServer, var_dir: Path
) -> None:
    keys = json.loads((var_dir / "operator-keys.json").read_text())
    offer = httpx.post(
        f"{server.base_url}/issuers/civil-registry/offers",
        json={
            "subject_id": "citizen-phone",
            "credential_configuration_id": "national_id",
            "claims": CITIZEN,
        },
        headers={"Authorization": f"Bearer {keys['civil-registry']}"},
    ).json()
    page.goto(f"{server.base_url}/wallet-app")
    page.get_by_role("button", name="Set up my wallet").click()
    expect(page.get_by_text("No credentials yet")).to_be_visible()
    page.get_by_role("button", name="Scan").click()
    page.get_by_label("Text of the QR code").fill(offer["offer_uri"])
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Add to my wallet").click()
    expect(page.get_by_role("heading", name="Added to your wallet")).to_be_visible()

    page.goto(f"{server.base_url}/counter/bank-kyc")
    page.get_by_label("Counter key").fill(keys["bank-kyc"])
    page.get_by_role("button", name="Open").click()
    page.get_by_label("The citizen's wallet is on this device (an online service)").check()
    page.get_by_role("button", name="Show the QR code").click()
    page.get_by_role("link", name="Open my wallet on this device").click()

    expect(page.get_by_role("heading", name="Someone asks for your data")).to_be_visible()
    page.get_by_role("button", name="Share").click()
    expect(page.get_by_role("heading", name="Verified")).to_be_visible()
    assert "/same-device" in page.url and "response_code" not in page.url
    expect(page.get_by_role("row", name="Given name Erika")).to_be_visible()  # its label
    expect(page.locator("#check-list li.failed")).to_have_count(0)
    screenshot(page, "same-device-result")
    no_serious_accessibility_violations(page)

    page.reload()  # the response code was used once; nothing is shown again
    expect(
        page.get_by_role(
            "heading", name="This result belongs to another session or was already shown."
        )
    ).to_be_visible()
