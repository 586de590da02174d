"""The oversight screen in Chromium, against a real ``idwallet serve``: an auditor
registered with ``idwallet auditor add`` signs in with its key (from the keyboard), picks a
period, reads the tables per counter and per agency with small counts as "fewer than 5",
in English and German; the read lands in the audit trail. Every state is checked with
axe-core and kept as a screenshot. (The roles' own appends come with the audit trail;
until then the entries are appended here through the trail, the contract they follow.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.clock import FixedClock
from core.storage.audit_trail import AuditEntryRow, SqlAuditTrail
from core.storage.engine import create_engine, session_factory
from tests.oversight.entries import MARCH_FIRST, realistic_mix
from tests.support.postgres import run_in_thread
from tests.support.server import ROOT, RunningServer
from tests.web.conftest import no_serious_accessibility_violations, screenshot
from web.pages import CONTENT_SECURITY_POLICY


def _database(var_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{var_dir / 'idwallet.db'}"


async def _append_mix(url: str) -> None:
    engine = create_engine(url)
    clock = FixedClock(MARCH_FIRST)
    trail = SqlAuditTrail(session_factory(engine), clock.now)
    try:
        for at, entry in realistic_mix():
            clock.at = at
            await trail.append(entry)
    finally:
        await engine.dispose()


async def _views(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(AuditEntryRow.facts).where(
                    AuditEntryRow.action == "oversight.viewed", AuditEntryRow.actor == "dpa"
                )
            )
            return [r[0] for r in rows]
    finally:
        await engine.dispose()


def _add_auditor(server: RunningServer) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "auditor", "add", "dpa", "--name", "Data Protection"],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key: str = json.loads(result.stdout)["auditor_key"]
    return key


def test_an_auditor_reads_the_figures_of_march(
    page: Page, server: RunningServer, var_dir: Path
) -> None:
    url = _database(var_dir)
    run_in_thread(_append_mix(url))
    key = _add_auditor(server)
    answer = httpx.get(f"{server.base_url}/oversight")
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["cache-control"] == "no-store"

    page.goto(f"{server.base_url}/oversight")
    expect(page.get_by_role("heading", name="Sign in as an auditor")).to_be_visible()
    no_serious_accessibility_violations(page)
    page.get_by_label("Auditor key").fill("not the key")
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_role("alert")).to_have_text("This key is not an auditor key.")

    # from the keyboard: the key field, typed, Enter
    page.get_by_label("Auditor key").fill("")
    page.get_by_label("Auditor key").focus()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Figures of a period")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Data Protection")
    page.get_by_label("From", exact=True).fill("2026-03-01")
    page.get_by_label("To", exact=True).fill("2026-03-31")
    page.get_by_label("To", exact=True).press("Enter")

    counters = page.get_by_role("table", name="Relying parties (counters): what they asked for")
    expect(counters).to_be_visible()
    expect(
        counters.get_by_role(
            "row", name="bar-age-check age_over_18 age_equal_or_over.18 12 9 fewer than 5"
        )
    ).to_be_visible()
    expect(counters.get_by_role("row")).to_have_count(4)  # the head and three rows
    agencies = page.get_by_role(
        "table", name="Agencies: credentials issued and their status changes"
    )
    expect(
        agencies.get_by_role("row", name="civil-registry national_id 7 5 fewer than 5 fewer than 5")
    ).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Figures from 2026-03-01 to 2026-03-31")
    screenshot(page, "oversight-1-march")
    no_serious_accessibility_violations(page)

    page.get_by_label("Language").select_option("de")
    expect(page.get_by_role("heading", name="Zahlen eines Zeitraums")).to_be_visible()
    expect(
        page.get_by_role(
            "table", name="Behörden: ausgestellte Nachweise und Statusänderungen"
        ).get_by_role("row", name="civil-registry residence_permit weniger als 5 0 0 0")
    ).to_be_visible()
    screenshot(page, "oversight-2-march-de")
    no_serious_accessibility_violations(page)

    # a period that is not one: the screen says so, in the screen's language
    page.get_by_label("Von", exact=True).fill("2026-04-01")
    page.get_by_role("button", name="Anzeigen").click()
    expect(page.get_by_role("alert")).to_contain_text("Dieser Zeitraum kann nicht angezeigt")

    page.get_by_role("button", name="Abmelden").click()
    expect(page.get_by_role("heading", name="Als Aufsichtsbehörde anmelden")).to_be_visible()
    views = run_in_thread(_views(url))
    assert '{"period":"2026-03-01/2026-03-31","read":"figures"}' in views
