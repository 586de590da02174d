"""The transport agency's page where the citizen chooses how to prove who they are, in
Chromium: with the national eID provider configured (the suite's OpenID Provider) the
agency allows the eID login beside the presentation of the national ID. The page says
which agency asks, what it will issue and from which register data; by keyboard alone the
citizen logs in at the provider and the browser goes back to the wallet with the code, or
goes on to the agency's presentation page and shows the national ID from the wallet, or
cancels. A browser that comes with a used or unknown request_uri is told in plain words
what happened and what to do. English and German, axe-core clean, kept as screenshots."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from playwright.sync_api import Browser, Page, expect

from tests.support.oidc_provider import (
    EIDAS_SUBSTANTIAL,
    ProviderClient,
    ProviderConfig,
    ProviderUser,
    RunningProvider,
    running_oidc_provider,
)
from tests.support.server import RunningServer, free_port, running_server
from tests.support.wallet_provider import CLIENT_ID, attestation_headers, new_instance
from tests.web.conftest import no_serious_accessibility_violations, screenshot
from tests.web.test_counter_screen import _citizen
from tests.web.test_issuance_presentation import (
    AGENCY,
    PROVIDER,
    REDIRECT,
    _back_at_the_wallet,
    _catch_the_wallet_redirect,
    _wallet_link,
)

SECRET = "eid-client-secret-for-the-screens"
PORT = free_port()
CALLBACK = f"http://127.0.0.1:{PORT}/issuers/{AGENCY}/eid/callback"


@pytest.fixture(scope="module")
def eid_provider() -> Iterator[RunningProvider]:
    config = ProviderConfig(
        clients=(ProviderClient("idwallet", (CALLBACK,), client_secret=SECRET),),
        users=(ProviderUser("u-erika", EIDAS_SUBSTANTIAL, {"personal_number": "demo-citizen"}),),
    )
    with running_oidc_provider(config) as running:
        yield running


@pytest.fixture
def server(var_dir: Path, eid_provider: RunningProvider) -> Iterator[RunningServer]:
    anchors = var_dir / "wallet-provider-roots.pem"
    anchors.write_bytes(PROVIDER.root.public_bytes(Encoding.PEM))
    with running_server(
        var_dir,
        IDWALLET_PORT=str(PORT),
        IDWALLET_WALLET_PROVIDER_ANCHORS=str(anchors),
        IDWALLET_EID_OIDC_ISSUER=eid_provider.issuer,
        IDWALLET_EID_OIDC_CLIENT_ID="idwallet",
        IDWALLET_EID_OIDC_CLIENT_SECRET=SECRET,
        IDWALLET_EID_OIDC_SCOPE="openid eid",
        IDWALLET_OUTBOUND_ALLOW=f"127.0.0.1:{eid_provider.port}",
    ) as running:
        yield running


def _pushed_request_uri(server: RunningServer) -> str:
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
    request_uri: str = pushed.json()["request_uri"]
    return request_uri


def _authorization_url(server: RunningServer, request_uri: str | None = None) -> str:
    request_uri = request_uri or _pushed_request_uri(server)
    return (
        f"{server.base_url}/issuers/{AGENCY}/authorize?client_id={CLIENT_ID}"
        f"&request_uri={request_uri}"
    )


def _tab_to(page: Page, element_id: str, presses: int = 12) -> list[str]:
    """Tab until the element has the focus; the ids (or tags) focused on the way."""
    focused = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
        if focused[-1] == element_id:
            return focused
    raise AssertionError(f"{element_id} never had the focus: {focused}")


def test_the_citizen_chooses_the_eid_login_and_goes_back_to_the_wallet_with_a_code(
    page: Page, server: RunningServer
) -> None:
    visits = _catch_the_wallet_redirect(page)
    page.goto(_authorization_url(server))
    expect(page.get_by_role("heading", name="Transport Agency asks who you are")).to_be_visible()
    facts = page.locator("#facts")
    expect(facts).to_contain_text("Driving licence")
    expect(facts).to_contain_text("Driving licence register")
    expect(facts).to_contain_text("Licence number")
    expect(page.get_by_role("link", name="Log in with the national eID")).to_be_visible()
    expect(page.get_by_role("link", name="Show your national ID from your wallet")).to_be_visible()
    no_serious_accessibility_violations(page)
    screenshot(page, "issuance-4-choose")
    # by keyboard alone: to the eID login, at the provider's form, and back
    focused = _tab_to(page, "way-eid_login")
    assert focused[0] == "language", focused
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Log in with your national eID")).to_be_visible()
    _tab_to(page, "login", presses=3)
    page.keyboard.type("demo-citizen")
    page.keyboard.press("Enter")
    answer = _back_at_the_wallet(page, visits)
    assert answer["state"] == "web-state" and answer["code"], answer
    assert answer["iss"] == f"{server.base_url}/issuers/{AGENCY}"


def test_the_page_speaks_german_and_leads_to_the_presentation_by_keyboard(
    browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    phone = _citizen(server, var_dir)
    context = browser.new_context(locale="de-DE", viewport={"width": 1100, "height": 1000})
    page = context.new_page()
    try:
        visits = _catch_the_wallet_redirect(page)
        page.goto(_authorization_url(server))
        expect(page.locator("#choosing-title")).to_have_text(
            "Verkehrsbehörde fragt, wer Sie sind, bevor der Nachweis ausgestellt wird"
        )
        expect(page.locator("#facts")).to_contain_text("Fahrerlaubnisregister")
        expect(page.locator("#facts")).to_contain_text("Führerscheinnummer")
        no_serious_accessibility_violations(page)
        screenshot(page, "issuance-5-choose-de")
        _tab_to(page, "way-presentation_login")
        page.keyboard.press("Enter")
        expect(page.locator("#asking-title")).to_contain_text("Verkehrsbehörde")
        # the presentation page says from which register data too
        expect(page.locator("#facts")).to_contain_text("Fahrerlaubnisregister")
        no_serious_accessibility_violations(page)
        consent = phone.scan(
            _wallet_link(page, "Scannen nicht möglich? Diesen Link in der Wallet öffnen")
        ).json()["presentation"]
        assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"
        answer = _back_at_the_wallet(page, visits)
        assert answer["state"] == "web-state" and answer["code"], answer
    finally:
        context.close()


def test_cancel_by_keyboard_goes_back_to_the_wallet(page: Page, server: RunningServer) -> None:
    visits = _catch_the_wallet_redirect(page)
    page.goto(_authorization_url(server))
    expect(page.locator("#choosing")).to_be_visible()
    _tab_to(page, "cancel")
    page.keyboard.press("Enter")
    answer = _back_at_the_wallet(page, visits)
    assert answer["error"] == "access_denied" and answer["state"] == "web-state", answer


def test_a_used_request_uri_is_explained_in_plain_words(
    browser: Browser, server: RunningServer
) -> None:
    request_uri = _pushed_request_uri(server)
    httpx.get(_authorization_url(server, request_uri))  # the wallet's link, used once
    for locale, title, shot in (
        ("en-GB", "This request cannot go on", "issuance-6-used-request"),
        ("de-DE", "Diese Anfrage kann nicht fortgesetzt werden", "issuance-7-used-request-de"),
    ):
        context = browser.new_context(locale=locale, viewport={"width": 1100, "height": 1000})
        page = context.new_page()
        try:
            answer = page.goto(_authorization_url(server, request_uri))
            assert answer is not None and answer.status == 400
            expect(page.get_by_role("heading", name=title)).to_be_visible()
            expect(page.locator('[data-problem="request"]')).to_be_visible()
            expect(page.locator('[data-problem="sign-in"]')).to_be_hidden()
            no_serious_accessibility_violations(page)
            screenshot(page, shot)
            _tab_to(page, "language", presses=2)  # the one control: the language
        finally:
            context.close()
