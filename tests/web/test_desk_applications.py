"""The desk's applications in Chromium: two wallets ask the transport agency for the
professional driving licence, which a clerk approves first (deferred issuance); the desk
lists them with what the clerk must check and the data that would be issued, the clerk
approves one and refuses the other (not without a reason), in English and German; the
wallets then collect the approved credential and are denied the other."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from tests.issuers.test_deferred_issuance import apply_for_professional_licence
from tests.issuers.wallet import Wallet
from tests.support.server import RunningServer
from tests.web.conftest import SCREENS, no_serious_accessibility_violations, screenshot
from tests.web.test_wallet_screen import _keys

AGENCY = "transport-agency"


def test_the_clerk_approves_one_application_and_refuses_another(
    browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    key = _keys(var_dir)[AGENCY]
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        approved = apply_for_professional_licence(client, key, "driver-approved")
        refused = apply_for_professional_licence(client, key, "driver-refused")

        desk = browser.new_context(locale="en-GB").new_page()
        desk.goto(f"{server.base_url}/desk/{AGENCY}")
        desk.get_by_label("Operator key").fill(key)
        desk.get_by_role("button", name="Open").click()
        section = desk.locator("#applications")
        expect(
            section.get_by_role("heading", name="Applications waiting for a decision")
        ).to_be_visible()
        items = section.locator("#application-list > li")
        expect(items).to_have_count(2)
        first = items.nth(0)
        expect(first.get_by_role("heading")).to_have_text(
            "Professional driving licence · driver-approved"
        )
        expect(first.locator(".to-check")).to_contain_text("medical certificate")
        expect(first.locator("dl")).to_contain_text("Given name")
        expect(first.locator("dl")).to_contain_text("Erika")
        expect(first.locator("dl")).to_contain_text("Category: C")
        screenshot(desk, "desk-4-desk-with-applications")
        SCREENS.mkdir(parents=True, exist_ok=True)
        section.screenshot(path=str(SCREENS / "desk-4-applications.png"))
        no_serious_accessibility_violations(desk)

        second = items.nth(1)
        second.get_by_role(
            "button", name="Refuse: Professional driving licence · driver-refused"
        ).click()
        expect(desk.get_by_role("alert")).to_have_text("Enter the reason for the refusal first.")
        expect(items).to_have_count(2)
        second.get_by_label(
            "Reason for the refusal (for the agency only; not sent to the citizen's wallet)"
        ).fill("medical certificate is not signed")
        second.get_by_role(
            "button", name="Refuse: Professional driving licence · driver-refused"
        ).click()
        expect(section.get_by_role("status")).to_have_text(
            "Refused: the citizen's wallet is told the credential will not be issued."
        )
        expect(items).to_have_count(1)
        items.first.get_by_role(
            "button", name="Approve: Professional driving licence · driver-approved"
        ).click()
        expect(section.get_by_role("status")).to_have_text(
            "Approved: the citizen's wallet collects the credential when it next asks."
        )
        expect(desk.locator("#no-applications")).to_be_visible()
        expect(items).to_have_count(0)
        no_serious_accessibility_violations(desk)

        desk.get_by_label("Language").select_option("de")
        expect(
            section.get_by_role("heading", name="Anträge, die auf eine Entscheidung warten")
        ).to_be_visible()
        expect(desk.locator("#no-applications")).to_have_text("Kein Antrag wartet.")
        desk.get_by_label("Sprache").select_option("en")

        collected = Wallet(client).deferred_credential(  # type: ignore[arg-type]
            approved.metadata, approved.access_token, approved.response.json()["transaction_id"]
        )
        assert collected.status_code == 200, collected.text
        denied = Wallet(client).deferred_credential(  # type: ignore[arg-type]
            refused.metadata, refused.access_token, refused.response.json()["transaction_id"]
        )
        assert denied.status_code == 400
        assert denied.json()["error"] == "credential_request_denied"

        # a clerk at another desk decided meanwhile: this desk says so and lists what is left
        late = apply_for_professional_licence(client, key, "driver-late")
        desk.get_by_role("button", name="Refresh the list").click()
        expect(items).to_have_count(1)
        listed = client.get(
            f"/issuers/{AGENCY}/applications",
            params={"state": "pending"},
            headers={"Authorization": f"Bearer {key}"},
        ).json()["applications"]
        client.post(
            f"/issuers/{AGENCY}/applications/{listed[0]['application_id']}/approve",
            headers={"Authorization": f"Bearer {key}"},
        )
        items.first.get_by_role(
            "button", name="Approve: Professional driving licence · driver-late"
        ).click()
        expect(desk.get_by_role("alert")).to_have_text(
            "Another clerk has decided this application already."
        )
        expect(items).to_have_count(0)
        assert late.response.status_code == 202
        desk.context.close()


def test_a_desk_whose_agency_approves_nothing_shows_no_applications(
    browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    desk = browser.new_context(locale="en-GB").new_page()
    desk.goto(f"{server.base_url}/desk/civil-registry")
    desk.get_by_label("Operator key").fill(_keys(var_dir)["civil-registry"])
    desk.get_by_role("button", name="Open").click()
    expect(desk.get_by_role("heading", name="New offer")).to_be_visible()
    expect(desk.locator("#applications")).to_be_hidden()
    desk.context.close()
