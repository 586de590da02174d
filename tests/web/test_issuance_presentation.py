"""The transport agency's authorization page in Chromium: a HAIP wallet asks for a driving
licence, the citizen's browser lands on the agency's page, which asks for the national ID
(a QR code for a wallet on another device, a link for one on this device); the citizen's
wallet answers and the page sends the browser back to the wallet with the code. In
English and in German, by keyboard, checked with axe-core, kept as screenshots; a
declined presentation shows its reason in plain words with the way back to the wallet."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from playwright.sync_api import Browser, Page, Request, expect

from tests.support.server import RunningServer, running_server
from tests.support.wallet_provider import (
    CLIENT_ID,
    WalletProvider,
    attestation_headers,
    new_instance,
)
from tests.web.conftest import no_serious_accessibility_violations, screenshot
from tests.web.test_counter_screen import _citizen

AGENCY = "transport-agency"
REDIRECT = "https://wallet.example.eu/cb"
PROVIDER = WalletProvider()


@pytest.fixture
def server(var_dir: Path) -> Iterator[RunningServer]:
    anchors = var_dir / "wallet-provider-roots.pem"
    anchors.write_bytes(PROVIDER.root.public_bytes(Encoding.PEM))
    with running_server(var_dir, IDWALLET_WALLET_PROVIDER_ANCHORS=str(anchors)) as running:
        yield running


def _authorization_url(server: RunningServer) -> str:
    """A HAIP wallet's pushed request for the licence; where it sends the browser."""
    issuer = f"{server.base_url}/issuers/{AGENCY}"
    headers = attestation_headers(PROVIDER, new_instance(), audience=issuer, issued_at=time.time())
    pushed = httpx.post(
        f"{issuer}/par",
        data={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
            "scope": "driving_licence",
            "state": "web-state",
        },
        headers=headers,
    )
    assert pushed.status_code == 201, pushed.text
    request_uri = pushed.json()["request_uri"]
    return f"{issuer}/authorize?client_id={CLIENT_ID}&request_uri={request_uri}"


def _catch_the_wallet_redirect(page: Page) -> list[str]:
    """The wallet's redirect URI is an app link the test browser cannot open: every
    request for it is recorded (and, where the browser lets a route answer it, answered
    here instead of leaving for the internet)."""
    visits: list[str] = []
    wallet = re.compile("^" + re.escape(REDIRECT))

    def seen(request: Request) -> None:
        if wallet.match(request.url) and request.url not in visits:
            visits.append(request.url)

    page.on("request", seen)
    page.route(wallet, lambda route: route.fulfill(status=200, body="<title>Wallet</title>"))
    return visits


def _back_at_the_wallet(page: Page, visits: list[str]) -> dict[str, str]:
    """The answer the browser was sent to the wallet with."""
    for _ in range(150):
        if visits:
            break
        page.wait_for_timeout(100)
    [arrived] = visits
    return {k: v[0] for k, v in parse_qs(urlsplit(arrived).query).items()}


def _wallet_link(page: Page, summary: str = "Cannot scan? Open this link in the wallet") -> str:
    page.get_by_text(summary).click()
    link = page.locator("#wallet-link")
    expect(link).to_have_attribute("href", re.compile(r"^openid4vp://"))
    href = link.get_attribute("href")
    assert href is not None
    return href


def test_the_citizen_shows_the_national_id_and_goes_back_to_the_wallet(
    page: Page, server: RunningServer, var_dir: Path
) -> None:
    phone = _citizen(server, var_dir)
    visits = _catch_the_wallet_redirect(page)
    page.goto(_authorization_url(server))
    expect(page.get_by_role("heading", name="Transport Agency asks", exact=False)).to_be_visible()
    expect(page.locator("#qr")).to_be_visible()
    no_serious_accessibility_violations(page)
    screenshot(page, "issuance-1-present")
    uri = _wallet_link(page)
    consent = phone.scan(uri).json()["presentation"]
    assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"
    answer = _back_at_the_wallet(page, visits)
    assert answer["state"] == "web-state" and answer["code"]
    assert answer["iss"] == f"{server.base_url}/issuers/{AGENCY}"


def test_the_page_speaks_german_and_works_by_keyboard(
    browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    context = browser.new_context(locale="de-DE", viewport={"width": 1100, "height": 1000})
    page = context.new_page()
    try:
        page.goto(_authorization_url(server))
        expect(page.locator("#asking-title")).to_contain_text("Verkehrsbehörde")
        no_serious_accessibility_violations(page)
        screenshot(page, "issuance-2-present-de")
        # by keyboard alone: the language, the same-device button, the link, the way back
        focused = []
        for _ in range(6):
            page.keyboard.press("Tab")
            focused.append(
                page.evaluate("document.activeElement.id || document.activeElement.tagName")
            )
        assert "this-device" in focused and "cancel" in focused, focused
    finally:
        context.close()


def test_a_declined_presentation_explains_itself_and_leads_back(
    page: Page, server: RunningServer, var_dir: Path
) -> None:
    phone = _citizen(server, var_dir)
    visits = _catch_the_wallet_redirect(page)
    page.goto(_authorization_url(server))
    uri = _wallet_link(page)
    consent = phone.scan(uri).json()["presentation"]
    declined = phone.post(f"/wallet/presentations/{consent['presentation_id']}/decline")
    assert declined.status_code == 200, declined.text
    problem = page.get_by_role("alert")
    expect(problem).to_be_visible(timeout=15_000)
    no_serious_accessibility_violations(page)
    screenshot(page, "issuance-3-declined")
    page.get_by_role("link", name="Back to the wallet").click()
    assert _back_at_the_wallet(page, visits)["error"] == "access_denied"


def test_cancel_goes_back_to_the_wallet_while_it_waits(page: Page, server: RunningServer) -> None:
    visits = _catch_the_wallet_redirect(page)
    page.goto(_authorization_url(server))
    expect(page.locator("#qr")).to_be_visible()
    page.get_by_role("link", name="Cancel and go back to the wallet").click()
    answer = _back_at_the_wallet(page, visits)
    assert answer["error"] == "access_denied" and answer["state"] == "web-state", answer
