"""A real ``idwallet serve`` reading its registers from a real demo register process
(``idwallet register serve``), as ``make run`` starts them: a clerk's script offers a
driving licence without typing the data in, the citizen's wallet receives it and its
activity log says that the transport agency read the data from the driving licence
register; the audit trail holds each read without the citizen's identifier; and with the
register stopped the script's offer fails and nothing is offered."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import backend_url, migrated_database
from tests.support.register_service import running_register
from tests.support.server import ROOT, free_port, running_server
from tests.wallet.phone import Phone

OFFER = ("--issuer", "transport-agency", "--credential", "driving_licence")


def _cli(env: dict[str, str], *args: str) -> tuple[int, Any, str]:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    document = json.loads(result.stdout) if result.returncode == 0 else None
    return result.returncode, document, result.stderr


def _register_reads(url: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text(
                        "SELECT actor, outcome, facts, subject_key FROM audit_entries"
                        " WHERE action = 'register.read' ORDER BY id"
                    )
                )
                return [dict(row._mapping) for row in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_desk_script_offers_from_the_register_service(
    backend: str, var_dir: Path, tmp_path: Path
) -> None:
    url = migrated_database(backend_url(backend, tmp_path))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        running_register(var_dir, public_base_url=base) as register,
        running_server(
            var_dir,
            IDWALLET_PORT=str(port),
            IDWALLET_DATABASE_URL=url,
            IDWALLET_REGISTER_CONNECTOR="http",
            IDWALLET_REGISTER_URL=register.url,
        ) as server,
    ):
        script = (*OFFER, "--server", base)
        code, offer, stderr = _cli(
            server.env, "offer", "create", *script, "--subject", "demo-citizen"
        )
        assert code == 0, stderr
        with httpx.Client(base_url=base, timeout=30) as client:
            phone = Phone(client)
            phone.register()
            [card] = phone.receive(offer["offer_uri"])["credentials"]
            activity = phone.get("/wallet/activity").json()["activity"]
        [read] = [entry for entry in activity if entry["kind"] == "register_read"]
        assert read["credential_id"] == card["credential_id"]
        assert read["issuer_name"] == "Transport Agency"
        assert {"locale": "en", "name": "Driving licence register"} in read["register"]

        code, _, stderr = _cli(server.env, "offer", "create", *script, "--subject", "nobody")
        assert code == 1 and "holds no such credential" in stderr

        register.stop()
        code, _, stderr = _cli(server.env, "offer", "create", *script, "--subject", "demo-citizen")
        assert code == 1 and "register could not be read" in stderr
    assert "registers read from register service" in server.output
    reads = _register_reads(url)
    assert [r["outcome"] for r in reads] == ["ok", "not_found", "unreachable"]
    for entry in reads:
        facts = json.loads(entry["facts"])
        assert entry["actor"] == "transport-agency" and entry["subject_key"] is None
        assert facts == {
            "credential_configuration": "driving_licence",
            "purpose": "issue_credential",
            "register": "transport-agency",
        }
        assert "demo-citizen" not in json.dumps(entry) and "nobody" not in json.dumps(entry)
    assert "idwallet demo register on" in "".join(register.output)
