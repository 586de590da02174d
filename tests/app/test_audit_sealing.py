"""The deployment's audit key and housekeeping (``app.audit_sealing``): heads signed by
``deployment:audit`` under the trust anchor, key events mirrored into the trail, entries
chained even where no head can be signed, and retention down to a signed head after which
``idwallet audit verify`` still finds the chain whole."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from app import cli
from app.audit_sealing import (
    AUDIT_KEY_OWNER,
    audit_chain,
    audit_sealing,
    head_policy,
    prune_expired,
)
from app.deployment import Deployment
from app.migrate import upgrade
from app.settings import Settings, SettingsError
from core.audit.chain import anchored_head_keys, verify_chain
from core.audit.trail import AuditEntry
from core.storage.audit_chain import AuditHeadRow
from tests.support.postgres import run_in_thread

ENTRY = AuditEntry(
    "operator", "civil-registry", "offer.created", facts={"credential_configuration": "national_id"}
)


@pytest.fixture
def settings(var_dir: Path) -> Settings:
    url = f"sqlite+aiosqlite:///{var_dir / 'idwallet.db'}"
    upgrade(url)
    return Settings(var_dir=var_dir, database_url=url, audit_retention_days=1)


async def test_heads_are_signed_by_the_audit_key_under_the_trust_anchor(settings: Settings) -> None:
    deployment = Deployment.open(settings)
    try:
        await deployment.audit_trail.append(ENTRY)
        chain = audit_chain(deployment)
        sealed = await chain.seal(head_policy(deployment))
        assert sealed.head is not None
        record = await deployment.keys.active_record(AUDIT_KEY_OWNER)
        assert record is not None and record.location == "software" and record.certificate_chain
        await chain.seal(head_policy(deployment), force=True)  # the key's creation, chained
        entries = await chain.read_entries(0, 100)
        keys = [e for e in entries if e.action == "key.created"]
        assert any(AUDIT_KEY_OWNER in e.facts and "deployment" in e.facts for e in keys)
        report = verify_chain(
            entries,
            await chain.read_heads(),
            anchored_head_keys([deployment.trust_anchor.certificate]),
        )
        assert report.ok and report.signed_through == len(entries)
    finally:
        await deployment.close()


async def test_without_a_certificate_for_the_audit_key_entries_are_chained_unsigned(
    settings: Settings, var_dir: Path
) -> None:
    await Deployment.open(settings).close()
    anchor_only = dataclasses.replace(settings, trust_anchor_cert=var_dir / "trust-anchor.pem")
    deployment = Deployment.open(anchor_only)
    try:
        await deployment.audit_trail.append(ENTRY)
        async with audit_sealing(deployment):
            chain = audit_chain(deployment)
            for _ in range(200):  # the first pass runs at once
                if await chain.read_entries(0, 10):
                    break
                await asyncio.sleep(0.05)
        # the entry, and the creation of the audit key that could not be certified
        actions = [e.action for e in await chain.read_entries(0, 10)]
        assert actions[0] == "offer.created" and set(actions) <= {"offer.created", "key.created"}
        assert await chain.read_heads() == []
    finally:
        await deployment.close()


def test_retention_keeps_a_chain_that_verifies(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def populate() -> int:
        deployment = Deployment.open(settings)
        try:
            chain = audit_chain(deployment)
            for _ in range(3):
                await deployment.audit_trail.append(ENTRY)
            first = await chain.seal(head_policy(deployment), force=True)
            assert first.head is not None
            # that head was signed three days ago, as far as retention can tell
            async with deployment.sessions.begin() as session:
                await session.execute(
                    update(AuditHeadRow)
                    .where(AuditHeadRow.position == first.head.position)
                    .values(at=time.time() - 3 * 86400)
                )
            await deployment.audit_trail.append(ENTRY)
            await chain.seal(head_policy(deployment), force=True)
            return await prune_expired(deployment, chain)
        finally:
            await deployment.close()

    removed = run_in_thread(populate())
    assert removed >= 3  # the three entries (and the audit key's creation) under that head
    monkeypatch.setenv("IDWALLET_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("IDWALLET_DATABASE_URL", settings.database_url)
    assert cli.main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "OK: the chain holds" in out
    assert f"positions {removed + 1} to" in out


@pytest.mark.parametrize(
    ("name", "value"),
    [("AUDIT_HEAD_INTERVAL", "0"), ("AUDIT_RETENTION_DAYS", "-1"), ("AUDIT_HEAD_INTERVAL", "x")],
)
def test_audit_settings_out_of_range_stop_start_up(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"IDWALLET_{name}"):
        Settings.from_env({f"IDWALLET_{name}": value})


def test_audit_settings_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.audit_head_interval, settings.audit_retention_days) == (60, 0)
