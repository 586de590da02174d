"""The mediator's screen at a citizen space in Chromium (docs/mediators.md): a mediator
registered with ``idwallet mediator`` opens ``/mediator``, starts a help request; the
citizen consents in the web wallet with the code; the mediator receives the agency's
offer and presents to the bar's counter for the citizen; the citizen's activity log says
each was done with the mediator's help (in English and German); the citizen ends the help
and the mediator's next action is refused. The screen works with the keyboard alone, in
both languages, and every state passes axe-core."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.issuers.test_catalog import CITIZEN
from tests.support.server import RunningServer
from tests.wallet.phone import Phone
from tests.web.conftest import no_serious_accessibility_violations, screenshot


def _idwallet(server: RunningServer, *args: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, str] = json.loads(done.stdout)
    return answer


def _mediator_key(server: RunningServer) -> str:
    _idwallet(
        server,
        "mediator",
        "add-space",
        "--space",
        "espaco-lisboa",
        "--name",
        "Espaço Cidadão Lisboa",
        "--languages",
        "pt,en",
    )
    added = _idwallet(
        server,
        "mediator",
        "add",
        "--mediator",
        "ana-sousa",
        "--space",
        "espaco-lisboa",
        "--name",
        "Ana Sousa",
        "--languages",
        "pt,en,de",
    )
    return added["mediator_key"]


def _keys(var_dir: Path) -> dict[str, str]:
    keys: dict[str, str] = json.loads((var_dir / "operator-keys.json").read_text())
    return keys


def _offer(server: RunningServer, var_dir: Path) -> dict[str, str]:
    created = httpx.post(
        f"{server.base_url}/issuers/civil-registry/offers",
        json={
            "subject_id": "citizen-helped",
            "credential_configuration_id": "national_id",
            "claims": CITIZEN,
            "tx_code": True,
        },
        headers={"Authorization": f"Bearer {_keys(var_dir)['civil-registry']}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    body: dict[str, str] = created.json()
    return body


def _request(server: RunningServer, var_dir: Path) -> str:
    created = httpx.post(
        f"{server.base_url}/verifiers/bar-age-check/presentations",
        json={"template": "age_over_18"},
        headers={"Authorization": f"Bearer {_keys(var_dir)['bar-age-check']}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["uri"])


def _open_mediator(browser: Browser, server: RunningServer, key: str) -> Page:
    mediator = browser.new_context(locale="en-GB", viewport={"width": 1100, "height": 1000})
    screen = mediator.new_page()
    screen.goto(f"{server.base_url}/mediator")
    expect(screen.get_by_role("heading", name="Open the mediator screen")).to_be_visible()
    no_serious_accessibility_violations(screen)
    screen.get_by_label("Mediator key").fill("not the key")
    screen.get_by_role("button", name="Open").click()
    expect(screen.get_by_role("alert")).to_have_text("This key does not open the mediator screen.")
    screen.get_by_label("Mediator key").fill(key)
    screen.get_by_role("button", name="Open").click()
    expect(screen.get_by_role("heading", name="Help a citizen")).to_be_visible()
    expect(screen.locator("#whoami")).to_have_text(
        "You are Ana Sousa at Espaço Cidadão Lisboa."
        " A citizen's consent lets you help for 30 minutes."
    )
    return screen


def test_a_mediator_helps_a_citizen_who_ends_it(
    page: Page, browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    key = _mediator_key(server)
    page.goto(f"{server.base_url}/wallet-app")
    page.get_by_role("button", name="Set up my wallet").click()
    expect(page.get_by_text("No credentials yet")).to_be_visible()

    screen = _open_mediator(browser, server, key)
    screenshot(screen, "mediator-1-start")
    no_serious_accessibility_violations(screen)
    screen.get_by_role("button", name="Start helping a citizen").click()
    expect(screen.get_by_role("heading", name="Ask the citizen to agree")).to_be_visible()
    expect(screen.get_by_role("status")).to_contain_text("Waiting for the citizen")
    assert screen.locator("#help-qr").evaluate("img => img.complete && img.naturalWidth > 0")
    code = screen.locator("#help-code").inner_text()
    screenshot(screen, "mediator-2-code")
    no_serious_accessibility_violations(screen)

    # the citizen, beside the mediator, consents in their own wallet
    page.get_by_role("button", name="Help", exact=True).click()
    expect(page.get_by_role("heading", name="Help from a mediator")).to_be_visible()
    expect(page.get_by_text("Nobody. Only you use your wallet.")).to_be_visible()
    page.get_by_label("Code from the mediator").fill(code.lower().replace("-", " "))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="A mediator asks to help you")).to_be_visible()
    expect(page.locator("#help-mediator")).to_have_text("Ana Sousa (pt, en, de)")
    expect(page.locator("#help-space")).to_have_text("Espaço Cidadão Lisboa")
    expect(page.locator("#help-minutes")).to_have_text("30 minutes")
    screenshot(page, "wallet-mediation-1-consent")
    no_serious_accessibility_violations(page)
    page.get_by_role("button", name="Allow this help").click()
    helper = page.locator("#helpers li")
    expect(helper).to_contain_text("Ana Sousa at Espaço Cidadão Lisboa")
    number = helper.locator("p").nth(1).inner_text().rsplit(" ", 1)[-1]
    screenshot(page, "wallet-mediation-2-helping")
    no_serious_accessibility_violations(page)

    expect(screen.get_by_role("heading", name="You are helping the citizen")).to_be_visible()
    expect(screen.locator("#helping-check")).to_have_text(
        f"Check together: the citizen's wallet shows the number {number}."
    )
    no_serious_accessibility_violations(screen)

    # receive: the agency's offer, with the transaction code the citizen got apart
    offer = _offer(server, var_dir)
    screen.get_by_role("button", name="Receive a credential").click()
    screen.get_by_label("Text of the agency's QR code").fill(offer["offer_uri"])
    screen.get_by_role("button", name="Continue").click()
    expect(screen.locator("#offer-issuer")).to_have_text("Civil Registry")
    screen.get_by_label("Transaction code (the citizen received it separately)").fill(
        offer["tx_code"]
    )
    screenshot(screen, "mediator-3-offer")
    no_serious_accessibility_violations(screen)
    screen.get_by_role("button", name="Add to the citizen's wallet").click()
    expect(screen.locator("#outcome")).to_contain_text("is in the citizen's wallet")

    # present: the bar's counter asks, the citizen agrees, the mediator shares
    screen.get_by_role("button", name="Share data with a counter").click()
    screen.get_by_label("Text of the counter's QR code").fill(_request(server, var_dir))
    screen.get_by_role("button", name="Continue").click()
    expect(screen.locator("#consent-verifier")).to_have_text("Corner Bar")
    expect(screen.locator("#consent-claims")).to_contain_text("Aged 18 or over")
    screenshot(screen, "mediator-4-consent")
    no_serious_accessibility_violations(screen)
    screen.get_by_role("button", name="The citizen agrees: share").click()
    expect(screen.locator("#outcome")).to_have_text("Done: the data was shared.")
    screen.get_by_role("button", name="Their activity").click()
    # the mediator's reading of the log is the newest entry of the log they read
    expect(screen.locator("#activity-list li").first).to_contain_text(
        "Your activity log was looked at — with the help of Ana Sousa at Espaço Cidadão Lisboa"
    )
    expect(screen.locator("#activity-list li").nth(1)).to_contain_text(
        "Data shared — Corner Bar — with the help of Ana Sousa at Espaço Cidadão Lisboa"
    )
    no_serious_accessibility_violations(screen)

    # the citizen's own log says who helped, and with what, in either language
    page.get_by_role("button", name="Activity").click()
    entries = page.locator("#activity-list li")
    expect(entries.first).to_contain_text(
        "Your activity log was looked at — with the help of Ana Sousa at Espaço Cidadão Lisboa"
    )
    expect(entries.nth(1)).to_contain_text(
        "Data shared — Corner Bar (Aged 18 or over)"
        " — with the help of Ana Sousa at Espaço Cidadão Lisboa"
    )
    expect(entries.nth(2)).to_contain_text("A QR code was scanned for you — with the help of")
    expect(entries.nth(3)).to_contain_text(
        "Credential added — Civil Registry — with the help of Ana Sousa"
    )
    expect(entries.nth(4)).to_contain_text("A QR code was scanned for you — with the help of")
    expect(entries.nth(5)).to_contain_text("Help from a mediator started — Ana Sousa")
    screenshot(page, "wallet-mediation-3-activity")
    page.get_by_label("Language").select_option("de")
    page.get_by_role("button", name="Verlauf").click()
    expect(entries.first).to_contain_text(
        "Ihr Aktivitätsprotokoll wurde angesehen — mit Hilfe von Ana Sousa bei Espaço Cidadão"
    )
    no_serious_accessibility_violations(page)
    page.get_by_label("Sprache").select_option("en")

    # the citizen ends it; the mediator's next action is refused
    page.get_by_role("button", name="Help", exact=True).click()
    page.get_by_role("button", name="End this help now: Ana Sousa").click()
    expect(page.get_by_text("Nobody. Only you use your wallet.")).to_be_visible()
    screen.get_by_role("button", name="Their credentials").click()
    expect(screen.get_by_role("heading", name="Your help has ended")).to_be_visible()
    expect(screen.locator("#ended-text")).to_have_text(
        "The citizen ended your help, or the time is up. You cannot act for them any more."
    )
    screenshot(screen, "mediator-5-ended")
    no_serious_accessibility_violations(screen)
    page.get_by_role("button", name="Activity").click()
    expect(entries.first).to_contain_text("Help from a mediator ended — Ana Sousa")


def test_cancel_on_the_mediator_screen_withdraws_the_code(
    page: Page, browser: Browser, server: RunningServer
) -> None:
    """The mediator cancels a help request: the code stops working for the citizen at
    once, not only on the mediator's screen."""
    screen = _open_mediator(browser, server, _mediator_key(server))
    screen.get_by_role("button", name="Start helping a citizen").click()
    expect(screen.get_by_role("heading", name="Ask the citizen to agree")).to_be_visible()
    code = screen.locator("#help-code").inner_text()
    with screen.expect_response(lambda r: r.request.method == "DELETE") as withdrawn:
        screen.get_by_role("button", name="Cancel").click()
    assert withdrawn.value.status == 204
    expect(screen.locator("#ended-text")).to_have_text("You cancelled the request.")

    page.goto(f"{server.base_url}/wallet-app")
    page.get_by_role("button", name="Set up my wallet").click()
    expect(page.get_by_text("No credentials yet")).to_be_visible()
    page.get_by_role("button", name="Help", exact=True).click()
    expect(page.get_by_role("heading", name="Help from a mediator")).to_be_visible()
    page.get_by_label("Code from the mediator").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("This code does not work")


def test_the_mediator_screen_works_with_the_keyboard_alone_in_german(
    page: Page, browser: Browser, server: RunningServer
) -> None:
    key = _mediator_key(server)
    page.goto(f"{server.base_url}/mediator")
    expect(page.get_by_role("heading", name="Open the mediator screen")).to_be_focused()
    page.keyboard.press("Tab")  # the language picker, in the bar
    page.keyboard.press("Shift+Tab")
    page.get_by_label("Language").focus()
    page.keyboard.press("ArrowDown")  # Deutsch
    expect(page.get_by_role("heading", name="Vermittlungsansicht öffnen")).to_be_visible()
    page.get_by_label("Schlüssel der Vermittlerin oder des Vermittlers").focus()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Einer Person helfen")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Hilfe für eine Person beginnen")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Bitten Sie die Person um Zustimmung")).to_be_focused()
    expect(page.get_by_role("status")).to_contain_text("Warten auf die Person")
    no_serious_accessibility_violations(page)
    code = page.locator("#help-code").inner_text()

    # the citizen scans the QR code: the wallet opens the consent, and the keyboard gives it
    wallet = browser.new_context(locale="en-GB").new_page()
    wallet.goto(f"{server.base_url}/wallet-app")
    wallet.get_by_role("button", name="Set up my wallet").click()
    expect(wallet.get_by_text("No credentials yet")).to_be_visible()
    wallet.goto("about:blank")
    wallet.goto(f"{server.base_url}/wallet-app#help={code}")
    expect(wallet.get_by_role("heading", name="A mediator asks to help you")).to_be_focused()
    wallet.keyboard.press("Tab")
    for _ in range(5):
        if wallet.evaluate("document.activeElement.id") == "help-allow":
            break
        wallet.keyboard.press("Tab")
    expect(wallet.get_by_role("button", name="Allow this help")).to_be_focused()
    wallet.keyboard.press("Enter")
    expect(wallet.locator("#helpers li")).to_contain_text("Ana Sousa")

    expect(page.get_by_role("heading", name="Sie helfen der Person")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Ihre Aktivitäten")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Ihre Aktivitäten", exact=True)).to_be_focused()
    # newest first: the mediator's reading of the log itself, then the start
    expect(page.locator("#activity-list li").first).to_contain_text(
        "Ihr Aktivitätsprotokoll wurde angesehen — mit Hilfe von Ana Sousa"
    )
    expect(page.locator("#activity-list li").nth(1)).to_contain_text(
        "Hilfe durch eine Vermittlerin oder einen Vermittler begonnen — Ana Sousa"
    )
    no_serious_accessibility_violations(page)
    page.get_by_role("button", name="Hilfe beenden").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Ihre Hilfe ist beendet")).to_be_focused()
    wallet.get_by_role("button", name="Help", exact=True).click()
    expect(wallet.get_by_text("Nobody. Only you use your wallet.")).to_be_visible()
    wallet.context.close()


def test_consent_by_presenting_the_national_id(
    browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    """The citizen's phone scans the mediator's QR code and shares the national ID; the
    screen shows whose ID it was, to compare with the person beside the mediator."""
    key = _mediator_key(server)
    phone = Phone(httpx.Client(base_url=server.base_url, timeout=30))
    phone.register()
    offer = _offer(server, var_dir)
    phone.receive(offer["offer_uri"], tx_code=offer["tx_code"])
    screen = _open_mediator(browser, server, key)
    screen.get_by_role("button", name="The citizen shows their national ID instead").click()
    expect(screen.get_by_role("heading", name="Ask the citizen to agree")).to_be_focused()
    expect(screen.locator("#ask-by-id")).to_be_visible()
    expect(screen.locator("#code-panel")).to_be_hidden()
    assert screen.locator("#help-qr").evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot(screen, "mediator-6-national-id")
    no_serious_accessibility_violations(screen)
    uri = screen.locator("#consent-link").get_attribute("href") or ""
    assert uri.startswith("openid4vp://")

    scanned = phone.scan(uri)
    assert scanned.status_code == 201, scanned.text
    assert phone.approve(scanned.json()["presentation"]["presentation_id"])["outcome"] == (
        "accepted"
    )
    expect(screen.get_by_role("heading", name="You are helping the citizen")).to_be_visible()
    expect(screen.locator("#helping-proven")).to_have_text(
        f"The national ID shown is of {CITIZEN['given_name']} {CITIZEN['family_name']}."
        " Check it is the person beside you."
    )
    no_serious_accessibility_violations(screen)
    screen.get_by_role("button", name="Their credentials").click()
    expect(screen.locator("#credential-list li")).to_have_count(1)
    [live] = phone.get("/wallet/mediations").json()["mediations"]
    assert phone.delete(f"/wallet/mediations/{live['mediation_id']}").status_code == 204
    screen.get_by_role("button", name="Their activity").click()
    expect(screen.get_by_role("heading", name="Your help has ended")).to_be_visible()
