"""The screens in a real browser: Debian's Chromium (installed here when missing, as the
test setup is allowed to), driven by Playwright, against a real ``idwallet serve``.
Screenshots land in ``test-artifacts/screens`` (kept by CI as artefacts)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.server import ROOT, RunningServer, running_server

CHROMIUM = "/usr/bin/chromium"
SCREENS = ROOT / "test-artifacts" / "screens"


def _chromium() -> str | None:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if shutil.which("apt-get") and os.geteuid() == 0:
        # one installer at a time: several test processes may get here together
        (ROOT / "test-artifacts").mkdir(exist_ok=True)
        with (ROOT / "test-artifacts" / ".chromium-install.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not Path(CHROMIUM).exists():
                subprocess.run(
                    ["apt-get", "install", "-y", "-q", "chromium"],
                    check=False,
                    capture_output=True,
                    timeout=900,
                    env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                )
    return CHROMIUM if Path(CHROMIUM).exists() else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for each module of screen tests, stopped when the module is done:
    Playwright's synchronous API keeps an event loop running in the test process while it
    is open, and tests of other modules that the same process runs afterwards (with
    several test processes, any may) need to start loops of their own."""
    executable = _chromium()
    if executable is None:
        message = "Chromium is not installed and could not be installed (apt-get chromium)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def server(var_dir: Path) -> Iterator[RunningServer]:
    # status lists cached for seconds, not minutes, so a revocation shows within a test
    with running_server(var_dir, IDWALLET_STATUS_LIST_TTL="5") as running:
        yield running


@pytest.fixture
def page(browser: Browser, server: RunningServer) -> Iterator[Page]:
    """A fresh browser context, closed before the server stops (its open event streams
    would otherwise hold the server's graceful shutdown)."""
    context = browser.new_context(locale="en-GB", viewport={"width": 1100, "height": 1000})
    opened = context.new_page()
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def no_serious_accessibility_violations(page: Page) -> None:
    """axe-core on the page as it is now: nothing serious or critical."""
    results: Any = Axe().run(page)
    serious = [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert serious == [], serious
