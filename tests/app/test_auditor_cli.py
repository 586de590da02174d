"""``idwallet auditor`` where the database is not migrated yet: said in words, no
traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main


def test_an_unmigrated_database_is_said_to_be_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IDWALLET_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("IDWALLET_VAR_DIR", str(tmp_path))
    assert main(["auditor", "add", "dpa", "--name", "Data Protection Authority"]) == 1
    said = capsys.readouterr()
    assert "migrated (idwallet migrate)" in said.err
    assert "Traceback" not in said.err and said.out == ""
