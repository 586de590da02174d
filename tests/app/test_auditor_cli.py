"""``idwallet auditor``: where the database is not migrated yet, said in words, no
traceback; every change appended to the deployment's audit trail."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import main
from app.migrate import upgrade
from core.storage.audit_trail import AuditEntryRow
from core.storage.engine import create_engine
from tests.support.postgres import run_in_thread


def test_an_unmigrated_database_is_said_to_be_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IDWALLET_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("IDWALLET_VAR_DIR", str(tmp_path))
    assert main(["auditor", "add", "dpa", "--name", "Data Protection Authority"]) == 1
    said = capsys.readouterr()
    assert "migrated (idwallet migrate)" in said.err
    assert "Traceback" not in said.err and said.out == ""


def test_registering_replacing_and_removing_an_auditor_is_in_the_trail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'idwallet.db'}"
    upgrade(url)
    monkeypatch.setenv("IDWALLET_DATABASE_URL", url)
    monkeypatch.setenv("IDWALLET_VAR_DIR", str(tmp_path))
    assert main(["auditor", "add", "dpa", "--name", "Data Protection Authority"]) == 0
    assert main(["auditor", "new-key", "dpa"]) == 0
    assert main(["auditor", "remove", "dpa"]) == 0
    assert main(["auditor", "remove", "dpa"]) == 2  # nothing changed: nothing appended
    capsys.readouterr()

    async def read() -> list[tuple[str, str, str, str]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    select(
                        AuditEntryRow.actor_kind,
                        AuditEntryRow.actor,
                        AuditEntryRow.action,
                        AuditEntryRow.facts,
                    ).order_by(AuditEntryRow.id)
                )
                return [(r[0], r[1], r[2], r[3]) for r in rows]
        finally:
            await engine.dispose()

    assert run_in_thread(read()) == [
        ("deployment", "administrator", action, '{"auditor":"dpa"}')
        for action in ("auditor.registered", "auditor.key_replaced", "auditor.removed")
    ]
