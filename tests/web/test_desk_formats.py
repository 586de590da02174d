"""The desk offers the national ID in both formats in one QR code: the clerk fills in
the citizen's record once and ticks the ISO mdoc (the EU PID) beside the SD-JWT VC; the
offer the QR code carries names both configurations. Online sign-in offers one format,
so the choice is off there."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Browser, expect

from tests.issuers.test_catalog import CITIZEN
from tests.support.server import RunningServer
from tests.web.conftest import no_serious_accessibility_violations
from tests.web.test_wallet_screen import _desk


def test_the_desk_offers_the_national_id_in_both_formats(
    browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    desk = _desk(browser, server, var_dir)
    desk.get_by_label("Citizen number in the agency's register").fill("both-formats-at-the-desk")
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
    mdoc = desk.get_by_label("National identity card (mdoc)")
    expect(mdoc).not_to_be_checked()
    desk.get_by_label("By signing in online with their wallet").check()
    expect(mdoc).to_be_disabled()
    desk.get_by_label("With this QR code").check()
    mdoc.check()
    no_serious_accessibility_violations(desk)
    desk.get_by_role("button", name="Create the offer").click()
    expect(desk.get_by_role("heading", name="The offer is ready")).to_be_visible()
    uri = desk.locator("#offer-qr").get_attribute("data-uri") or ""
    [reference] = parse_qs(urlsplit(uri).query)["credential_offer_uri"]
    offer = httpx.get(reference, timeout=10).json()
    assert offer["credential_configuration_ids"] == ["national_id", "national_id_mdoc"]


def _register_reads(var_dir: Path) -> list[str]:
    """The purposes of the register reads in the deployment's audit trail."""
    [database] = var_dir.glob("*.db")
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT facts FROM audit_entries WHERE action = 'register.read' ORDER BY id"
        ).fetchall()
    return [json.loads(facts)["purpose"] for (facts,) in rows]


def test_an_offer_of_the_register_record_as_it_is_reads_the_register(
    browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    """The clerk looks the citizen up and offers what the register holds, untouched: the
    agency reads the register for the offer itself (so the wallet is told where the data
    came from). Data the clerk changed (here in the offer still pending, which now fills
    the form) is offered as the form holds it, with no read of the register."""
    desk = _desk(browser, server, var_dir)
    desk.get_by_label("Citizen number in the agency's register").fill("demo-citizen")
    desk.get_by_role("button", name="Look up").click()
    family = desk.locator('#claim-fields > div > input[data-name="family_name"]')
    expect(family).not_to_have_value("")
    assert _register_reads(var_dir) == ["desk_lookup"]
    desk.get_by_role("button", name="Create the offer").click()
    expect(desk.get_by_role("heading", name="The offer is ready")).to_be_visible()
    assert _register_reads(var_dir) == ["desk_lookup", "issue_credential"]

    desk = _desk(browser, server, var_dir)
    desk.get_by_label("Citizen number in the agency's register").fill("demo-citizen")
    desk.get_by_role("button", name="Look up").click()
    family = desk.locator('#claim-fields > div > input[data-name="family_name"]')
    expect(family).not_to_have_value("")
    family.fill("Corrected")
    with desk.expect_request(lambda r: r.method == "POST" and r.url.endswith("/offers")) as sent:
        desk.get_by_role("button", name="Create the offer").click()
    body = sent.value.post_data_json
    assert body is not None and body["claims"]["family_name"] == "Corrected"
    expect(desk.get_by_role("heading", name="The offer is ready")).to_be_visible()
    assert _register_reads(var_dir)[-1] != "issue_credential"
