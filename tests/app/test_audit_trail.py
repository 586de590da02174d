"""The deployment's audit trail end to end, on a real ``idwallet serve`` (SQLite and
PostgreSQL; its worker chains every few seconds, beside ``idwallet audit seal``): an
agency's offer, issuance and revocation, a counter's requests (answered, declined by the
citizen, refused for going beyond its registration) and the key events all land in the
trail, with no citizen's or credential's identifier in it; ``idwallet
audit seal``, ``verify`` and ``export`` work on it; a changed row in the database and a
changed line of an exported copy are each reported at their position."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from sqlalchemy import text

from app.bootstrap import ANCHOR_CERT_FILE
from core.storage.engine import create_engine
from tests.conftest import migrated_database
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.wallet import Wallet
from tests.support.postgres import run_in_thread
from tests.support.server import ROOT, RunningServer, free_port, running_server
from tests.support.write_load import offer_national_id, operator_headers
from tests.verifiers.presenter import fetch_request, present, respond

COUNTER = "bar-age-check"
SUBJECT = "audit-subject-8d1f2c"


def _idwallet(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "audit", *args],
        capture_output=True,
        text=True,
        env=server.env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def _ask(http: httpx.Client, var_dir: Path, template: str) -> httpx.Response:
    return http.post(
        f"/verifiers/{COUNTER}/presentations",
        json={"template": template},
        headers=operator_headers(var_dir, COUNTER),
    )


def _run(var_dir: Path, http: httpx.Client) -> list[str]:
    """Every audited action of the roles once; the identifiers that must stay out."""
    anchor = x509.load_pem_x509_certificate((var_dir / ANCHOR_CERT_FILE).read_bytes())
    offer = offer_national_id(http, var_dir, SUBJECT)
    _, credentials, holders = Wallet(http).receive(offer["offer_uri"])  # type: ignore[arg-type]
    asked = _ask(http, var_dir, "age_over_18")
    assert asked.status_code == 201, asked.text
    request = fetch_request(http, asked.json()["uri"], anchor=anchor)  # type: ignore[arg-type]
    answer = present(credentials[0], holders[0], request, {"age_over_18": True})
    assert respond(http, request, {"national_id": [answer]}).status_code == 200  # type: ignore[arg-type]
    declined = _ask(http, var_dir, "age_over_18")
    request = fetch_request(http, declined.json()["uri"], anchor=anchor)  # type: ignore[arg-type]
    path = request.payload["response_uri"].split("://", 1)[1].split("/", 1)[1]
    answered = http.post(
        f"/{path}", data={"error": "access_denied", "state": request.payload["state"]}
    )
    assert answered.status_code == 200, answered.text
    assert _ask(http, var_dir, "identity").status_code == 422  # not registered for it
    revoked = http.post(
        "/issuers/civil-registry/credentials/revoke",
        json={"subject_id": SUBJECT, "reason": "reported stolen"},
        headers=operator_headers(var_dir, "civil-registry"),
    )
    assert revoked.status_code == 200, revoked.text
    changed = revoked.json()["changed"]
    assert changed
    return [
        *(c["credential_id"] for c in changed),
        *(c["offer_id"] for c in changed),
        *(f"{c['status_uri']}#{c['status_idx']}" for c in changed),
        SUBJECT,
        offer["offer_uri"],
        asked.json()["transaction_id"],
        declined.json()["transaction_id"],
        credentials[0].split(".")[0],
        *(str(v) for v in CITIZEN.values() if isinstance(v, str) and len(v) > 3),
    ]


def _oversight_figures_count_the_run(server: RunningServer, http: httpx.Client) -> None:
    """An auditor's figures for today count what the roles did in ``_run``, from the trail
    those actions appended: the two requests of the age check shown, every single case
    (one answer, one refusal, one issuance, one revocation) suppressed below 2."""
    added = subprocess.run(
        [sys.executable, "-m", "app.cli", "auditor", "add", "dpa", "--name", "Authority"],
        capture_output=True,
        text=True,
        env=server.env,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    key = json.loads(added.stdout)["auditor_key"]
    today = dt.datetime.now(dt.UTC).date().isoformat()
    read = http.get(
        "/oversight/api/figures",
        params={"from": today, "to": today},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert read.status_code == 200, read.text
    figures = read.json()
    assert figures["min_count"] == 2
    by_purpose = {row["purpose"]: row for row in figures["counters"] if row["counter"] == COUNTER}
    age = by_purpose["age_over_18"]
    assert age["requested"] == 2
    assert age["answered_ok"] == age["declined"] == "suppressed"
    assert age["failed"] == 0
    assert by_purpose["identity"]["refused"] == "suppressed"
    agencies = {
        (row["agency"], row["credential_configuration"]): row for row in figures["agencies"]
    }
    national_id = agencies[("civil-registry", "national_id")]
    assert national_id["issued"] == national_id["revoked"] == "suppressed"
    assert national_id["suspended"] == national_id["reinstated"] == 0


async def _change_row(url: str, position: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE audit_entries SET outcome = 'changed' WHERE position = :p"),
                {"p": position},
            )
    finally:
        await engine.dispose()


def test_the_roles_actions_are_chained_signed_exported_and_checked(
    var_dir: Path, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = migrated_database(database_url)
    with running_server(
        var_dir,
        IDWALLET_PORT=str(port),
        IDWALLET_PUBLIC_BASE_URL=base,
        IDWALLET_DATABASE_URL=url,
        IDWALLET_AUDIT_HEAD_INTERVAL="1",
        IDWALLET_OVERSIGHT_MIN_COUNT="2",
    ) as server:
        with httpx.Client(base_url=base, timeout=30) as http:
            secrets = _run(var_dir, http)
            _oversight_figures_count_the_run(server, http)

        sealed = _idwallet(server, "seal")
        assert sealed.returncode == 0, sealed.stderr
        verified = _idwallet(server, "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "OK: the chain holds" in verified.stdout

        exported, anchor = tmp_path / "trail.jsonl", tmp_path / "anchor.pem"
        made = _idwallet(server, "export", "--output", str(exported), "--anchor", str(anchor))
        assert made.returncode == 0, made.stderr
        assert anchor.read_bytes() == (var_dir / ANCHOR_CERT_FILE).read_bytes()
    assert "Traceback" not in server.output

    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert lines[0]["type"] == "export" and lines[0]["head_signer_x5c"]
    entries = [line for line in lines if line["type"] == "entry"]
    actions: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        actions.setdefault(entry["action"], []).append(entry)
    assert {
        "offer.created",
        "credential.issued",
        "presentation.requested",
        "presentation.answered",
        "presentation.refused",
        "credential.revoked",
        "key.created",
    } <= set(actions), sorted(actions)
    assert json.loads(actions["offer.created"][0]["facts"]) == {
        "credential_configuration": "national_id"
    }
    issued = json.loads(actions["credential.issued"][0]["facts"])
    assert issued == {"count": 1, "credential_configuration": "national_id", "format": "dc+sd-jwt"}
    assert sorted(e["outcome"] for e in actions["presentation.answered"]) == ["access_denied", "ok"]
    requested = json.loads(actions["presentation.requested"][0]["facts"])
    assert requested["template"] == "age_over_18" and requested["claims"]
    refused = json.loads(actions["presentation.refused"][0]["facts"])
    assert refused["template"] == "identity"
    assert actions["credential.revoked"][0]["actor"] == "civil-registry"
    trail = exported.read_text()
    for secret in secrets:
        assert secret not in trail, secret

    # an exported copy checks without a database, and one changed line is found
    copy = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "audit",
            "verify",
            "--file",
            str(exported),
            "--anchor",
            str(anchor),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "IDWALLET_VAR_DIR": str(tmp_path / "nowhere")},
    )
    assert copy.returncode == 0, copy.stdout + copy.stderr
    target = actions["presentation.answered"][0]
    position = target["position"]
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text(
        "\n".join(
            json.dumps({**line, "outcome": "ok!"})
            if line.get("position") == position and line["type"] == "entry"
            else json.dumps(line)
            for line in lines
        )
        + "\n"
    )
    broken = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "audit",
            "verify",
            "--file",
            str(tampered),
            "--anchor",
            str(anchor),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "IDWALLET_VAR_DIR": str(tmp_path / "nowhere")},
    )
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"BREAK at position {position}: hash_mismatch" in broken.stdout

    # and so is a changed row of the database
    run_in_thread(_change_row(url, actions["presentation.answered"][0]["position"]))
    env_check = _idwallet(server, "verify")
    assert env_check.returncode == 1, env_check.stdout
    assert f"BREAK at position {position}: hash_mismatch" in env_check.stdout
