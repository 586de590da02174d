"""The web wallet is told live, in Chromium: it holds a national ID, the agency's clerk
revokes it through the operator API, the deployment's status-list watching (a pass every
second here) sees the agency's list change, and the notification appears on the open page
through the server-sent events of the mobile API, with the unread count; marking all read
clears it. The service worker is served for the wallet's scope under the page's policy
and the citizen can opt in to Web Push (headless Chromium has no push service, so the
page then says the browser cannot receive push; delivery itself is tested against a local
push service in ``tests/wallet/test_web_push.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.issuers.test_catalog import CITIZEN
from tests.support.server import RunningServer, running_server
from tests.web.conftest import no_serious_accessibility_violations, screenshot
from tests.web.test_wallet_screen import _keys, _scan


@pytest.fixture
def server(var_dir: Path) -> Iterator[RunningServer]:
    with running_server(
        var_dir,
        IDWALLET_STATUS_LIST_TTL="5",
        IDWALLET_STATUS_LIST_REVALIDATE="0",
        IDWALLET_STATUS_WATCH_EVERY="1",
        IDWALLET_STATUS_WATCH_FLOOR="1",
    ) as running:
        yield running


def _national_id_offer(server: RunningServer, var_dir: Path) -> str:
    created = httpx.post(
        f"{server.base_url}/issuers/civil-registry/offers",
        json={
            "subject_id": "notified-citizen",
            "credential_configuration_id": "national_id",
            "claims": CITIZEN,
        },
        headers={"Authorization": f"Bearer {_keys(var_dir)['civil-registry']}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    uri: str = created.json()["offer_uri"]
    return uri


def test_a_revocation_appears_live_in_the_web_wallet(
    page: Page, browser: Browser, server: RunningServer, var_dir: Path
) -> None:
    page.goto(f"{server.base_url}/wallet-app")
    page.get_by_role("button", name="Set up my wallet").click()
    expect(page.get_by_text("No credentials yet")).to_be_visible()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    expect(page.get_by_text("No notifications.")).to_be_visible()
    _scan(page, _national_id_offer(server, var_dir))
    page.get_by_role("button", name="Add to my wallet").click()
    expect(page.get_by_role("heading", name="Added to your wallet")).to_be_visible()
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_role("button", name="Open: National identity card")).to_be_visible()

    revoked = httpx.post(
        f"{server.base_url}/issuers/civil-registry/credentials/revoke",
        json={"subject_id": "notified-citizen", "reason": "reported stolen"},
        headers={"Authorization": f"Bearer {_keys(var_dir)['civil-registry']}"},
        timeout=30,
    )
    assert revoked.status_code == 200, revoked.text

    # nothing is reloaded: the stream brings it
    notices = page.locator("#notices-list")
    expect(notices).to_contain_text("Revoked by its issuer: National identity card", timeout=30_000)
    expect(page.locator("#notices-unread")).to_have_text("1")
    expect(page.get_by_text("Status: revoked")).to_be_visible()  # the card too, unreloaded
    expect(notices.locator("li.unread")).to_have_count(1)
    screenshot(page, "wallet-5-notification")
    no_serious_accessibility_violations(page)

    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("#notices-unread")).to_have_text("0")
    expect(notices.locator("li.unread")).to_have_count(0)

    page.get_by_role("button", name="Activity").click()
    expect(page.get_by_text("Credential revoked by its issuer")).to_be_visible()


def test_the_service_worker_is_served_for_the_wallet_and_push_can_be_asked_for(
    browser: Browser, server: RunningServer
) -> None:
    worker = httpx.get(f"{server.base_url}/wallet-app/sw.js", timeout=10)
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/wallet-app"

    context = browser.new_context(locale="en-GB")
    context.grant_permissions(["notifications"], origin=server.base_url)
    page = context.new_page()
    try:
        page.goto(f"{server.base_url}/wallet-app")
        page.get_by_role("button", name="Set up my wallet").click()
        expect(page.get_by_text("No credentials yet")).to_be_visible()
        page.get_by_role("button", name="Settings").click()
        page.get_by_role("button", name="Notify me in this browser").click()
        state = page.locator("#push-state")
        expect(state).not_to_be_empty(timeout=20_000)
        assert state.inner_text() in (
            "This browser will be notified, also when the wallet is closed.",
            "This browser cannot receive push notifications; you are notified while the "
            "wallet is open.",
        )
        scope = page.evaluate(
            "navigator.serviceWorker.getRegistration('/wallet-app').then((r) => r ? r.scope : null)"
        )
        assert scope == f"{server.base_url}/wallet-app"
        no_serious_accessibility_violations(page)
    finally:
        context.close()
