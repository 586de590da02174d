"""``idwallet audit`` on a deployment's database and on exported copies: a trail emptied
by retention verifies; a copy verifies with exit 0 only against an anchor given
independently; heads kept from an earlier export find entries cut from the end; an empty
trail says so; malformed lines, an unreachable or unmigrated database are said in words,
never a traceback; seal, export and verify are in the trail themselves."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import delete

from app import cli
from app.audit_sealing import audit_chain, head_policy
from app.deployment import Deployment
from app.migrate import upgrade
from app.settings import Settings
from core.audit.trail import AuditEntry
from core.storage.audit_chain import AuditHeadRow
from core.storage.audit_trail import AuditEntryRow
from tests.support.postgres import run_in_thread

ENTRY = AuditEntry(
    "operator", "civil-registry", "offer.created", facts={"credential_configuration": "pid"}
)
T = TypeVar("T")


@pytest.fixture
def settings(var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    url = f"sqlite+aiosqlite:///{var_dir / 'idwallet.db'}"
    upgrade(url)
    monkeypatch.setenv("IDWALLET_VAR_DIR", str(var_dir))
    monkeypatch.setenv("IDWALLET_DATABASE_URL", url)
    return Settings(var_dir=var_dir, database_url=url, audit_retention_days=1)


def _with(settings: Settings, work: Callable[[Deployment], Awaitable[T]]) -> T:
    async def run() -> T:
        deployment = Deployment.open(settings)
        try:
            return await work(deployment)
        finally:
            await deployment.close()

    return run_in_thread(run())


def _append_and_seal(settings: Settings, count: int) -> None:
    async def work(deployment: Deployment) -> None:
        for _ in range(count):
            await deployment.audit_trail.append(ENTRY)
        await audit_chain(deployment).seal(head_policy(deployment), force=True)

    _with(settings, work)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = cli.main(["audit", *args])
    said = capsys.readouterr()
    assert "Traceback" not in said.err
    return status, said.out + said.err


def _actions(settings: Settings) -> list[str]:
    return _with(settings, _all_actions)


async def _all_actions(deployment: Deployment) -> list[str]:
    chain = audit_chain(deployment)
    await chain.seal(None)
    return [e.action for e in await chain.read_entries(0, 10_000)]


def test_a_trail_retention_emptied_verifies(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _append_and_seal(settings, 3)

    async def prune_all(deployment: Deployment) -> int:
        chain = audit_chain(deployment)
        await chain.seal(head_policy(deployment), force=True)  # the audit key's creation
        return await chain.prune(time.time() + 1)

    assert _with(settings, prune_all) >= 3
    status, said = _run(capsys, "verify")
    assert status == 0, said
    assert "every entry was removed by retention" in said


def test_an_empty_trail_is_said_to_be_empty(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, said = _run(capsys, "verify")
    assert status == 4 and "EMPTY" in said
    status, said = _run(capsys, "verify", "--allow-empty")
    assert status == 0 and "EMPTY" in said


def _export(settings: Settings, capsys: pytest.CaptureFixture[str], path: Path) -> Path:
    anchor = path.with_suffix(".pem")
    status, said = _run(capsys, "export", "--output", str(path), "--anchor", str(anchor))
    assert status == 0, said
    return anchor


def test_a_copy_verifies_only_against_an_anchor_given_independently(
    settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _append_and_seal(settings, 2)
    exported = tmp_path / "trail.jsonl"
    anchor = _export(settings, capsys, exported)
    status, said = _run(capsys, "verify", "--file", str(exported))
    assert status == 3, said
    assert "NOT ANCHORED" in said
    status, said = _run(capsys, "verify", "--file", str(exported), "--anchor", str(anchor))
    assert status == 0, said
    der = x509.load_pem_x509_certificate(anchor.read_bytes()).public_bytes(Encoding.DER)
    fingerprint = hashlib.sha256(der).hexdigest()
    status, said = _run(capsys, "verify", "--file", str(exported), "--anchor-sha256", fingerprint)
    assert status == 0, said
    status, said = _run(capsys, "verify", "--file", str(exported), "--anchor-sha256", "0" * 64)
    assert status == 1 and "not the one given" in said


def _rewrite(source: Path, target: Path, change: Callable[[dict[str, Any]], object]) -> None:
    lines = [json.loads(line) for line in source.read_text().splitlines()]
    target.write_text(
        "\n".join(
            line if isinstance(line, str) else json.dumps(line) for line in map(change, lines)
        )
        + "\n"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"at": 10**30},
        {"at": 10**300 * 10**300},
        {"at": 1e308 * 10},
        {"at": "soon"},
        {"position": True},
        {"position": 2**80},
        {"entry_hash": None},
        {"type": "something"},
        "not json at all",
    ],
)
def test_malformed_lines_of_a_copy_are_said_in_words(
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    change: dict[str, Any] | str,
) -> None:
    _append_and_seal(settings, 2)
    exported = tmp_path / "trail.jsonl"
    anchor = _export(settings, capsys, exported)
    broken = tmp_path / "broken.jsonl"

    def apply(line: dict[str, Any]) -> object:
        if line["type"] != "entry" or line["position"] != 1:
            return line
        return change if isinstance(change, str) else {**line, **change}

    _rewrite(exported, broken, apply)
    status, said = _run(capsys, "verify", "--file", str(broken), "--anchor", str(anchor))
    assert status == 1, said
    assert "unreadable" in said


def test_a_kept_head_finds_entries_cut_from_the_end_with_their_heads(
    settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _append_and_seal(settings, 2)
    first = tmp_path / "first.jsonl"
    _export(settings, capsys, first)
    kept = [json.loads(line) for line in first.read_text().splitlines()]
    last_head = max((line for line in kept if line["type"] == "head"), key=lambda h: h["position"])
    _append_and_seal(settings, 2)
    status, said = _run(capsys, "verify", "--known-head", str(first))
    assert status == 0 and "still covers 1 known head" in said, said

    async def cut(deployment: Deployment) -> None:  # the end, and its heads, removed
        async with deployment.sessions.begin() as session:
            position = last_head["position"]
            await session.execute(delete(AuditEntryRow).where(AuditEntryRow.position >= position))
            await session.execute(delete(AuditHeadRow).where(AuditHeadRow.position >= position))

    _with(settings, cut)
    status, said = _run(capsys, "verify")
    assert status == 0, said  # on its own, a shorter chain that holds
    status, said = _run(capsys, "verify", "--known-head", last_head["jws"])
    assert status == 1
    assert f"BREAK at position {last_head['position']}: known_head_not_covered" in said


def test_seal_export_and_verify_are_in_the_trail(
    settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _append_and_seal(settings, 1)
    assert _run(capsys, "seal")[0] == 0
    _export(settings, capsys, tmp_path / "trail.jsonl")
    assert _run(capsys, "verify")[0] == 0
    actions = _actions(settings)
    assert {"audit.sealed", "audit.exported", "audit.verified"} <= set(actions)


def test_an_unmigrated_or_unreachable_database_is_said_in_words(
    tmp_path: Path,
    var_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("IDWALLET_VAR_DIR", str(var_dir))
    monkeypatch.setenv("IDWALLET_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    for command in (["verify"], ["seal"], ["export", "--output", str(tmp_path / "x.jsonl")]):
        status, said = _run(capsys, *command)
        assert status == 1, said
        assert "migrated (idwallet migrate)" in said
    monkeypatch.setenv("IDWALLET_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/nothing")
    status, said = _run(capsys, "verify")
    assert status == 1 and "is it reachable" in said
