"""The API documentation page in Chromium, with every request off the server under test
refused: Swagger UI comes from the deployment itself, runs under the screens' Content
Security Policy and lists the API's operations."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import ConsoleMessage, Page, Route, expect

from tests.support.server import RunningServer
from tests.web.conftest import screenshot


def test_the_documentation_works_offline_under_the_policy(
    page: Page, server: RunningServer
) -> None:
    ours = urlsplit(server.base_url).netloc
    elsewhere: list[str] = []

    def only_ours(route: Route) -> None:
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("blockedbyclient")

    console: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            console.append(message.text)

    errors: list[str] = []
    page.route("**/*", only_ours)
    page.on("console", keep)
    page.on("pageerror", lambda error: errors.append(str(error)))

    def nothing_went_wrong() -> None:
        assert elsewhere == [], f"requests off the server under test: {elsewhere}"
        violations = [text for text in console if "Content Security Policy" in text]
        assert violations == [], violations
        assert errors == [], errors

    page.goto(f"{server.base_url}/schema", wait_until="networkidle")
    nothing_went_wrong()
    # each operation's summary is a button named by its method, path and summary
    health = page.get_by_role("button", name=re.compile(r"^GET \/health "))
    expect(health).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^POST \/wallet\/devices "))).to_be_visible()
    health.click()  # the operation opens in place
    expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    screenshot(page, "api-docs")
    nothing_went_wrong()
