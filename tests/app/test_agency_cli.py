"""Agency scripts: ``idwallet offer create``, ``idwallet credential …`` and ``idwallet
application …`` against a running server, as an agency would run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.encoding import b64url_decode
from tests.conftest import backend_url, migrated_database
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_deferred_issuance import LORRY_DRIVER
from tests.issuers.wallet import Wallet
from tests.support.server import ROOT, running_server


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


def test_offer_create_then_revoke_by_status_reference(var_dir: Path, tmp_path: Path) -> None:
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(CITIZEN), encoding="utf-8")
    with running_server(var_dir) as server:
        env, url = server.env, server.base_url
        code, offer, stderr = _cli(
            env,
            "offer",
            "create",
            "--issuer",
            "civil-registry",
            "--credential",
            "national_id",
            "--claims",
            str(claims),
            "--tx-code",
            "--server",
            url,
        )
        assert code == 0, stderr
        assert offer["offer_uri"].startswith("openid-credential-offer://?credential_offer_uri=")
        assert offer["tx_code"] and len(offer["tx_code"]) == 6 and offer["expires_at"].endswith("Z")
        online_offer = ("offer", "create", "--issuer", "civil-registry", "--credential")
        online_offer += ("national_id", "--claims", str(claims), "--server", url)
        code, online, stderr = _cli(env, *online_offer, "--grant", "authorization_code")
        assert code == 0, stderr
        assert list(online["credential_offer"]["grants"]) == ["authorization_code"]
        assert online["credential_offer"]["grants"]["authorization_code"]["issuer_state"]
        assert online["tx_code"] is None
        code, _, stderr = _cli(env, *online_offer, "--grant", "authorization_code", "--tx-code")
        assert code != 0 and "transaction code goes with the pre-authorized" in stderr
        with httpx.Client(base_url=url) as client:
            _, credentials, _ = Wallet(client).receive(offer["offer_uri"], tx_code=offer["tx_code"])  # type: ignore[arg-type]
        reference = json.loads(b64url_decode(credentials[0].split("~")[0].split(".")[1]))["status"][
            "status_list"
        ]
        code, revoked, stderr = _cli(
            env,
            "credential",
            "revoke",
            "--issuer",
            "civil-registry",
            "--status-uri",
            reference["uri"],
            "--status-idx",
            str(reference["idx"]),
            "--server",
            url,
            "--reason",
            "test",
        )
        assert code == 0, stderr
        assert revoked["changed"][0]["status"] == "revoked"
        code, again, _ = _cli(
            env,
            "credential",
            "suspend",
            "--issuer",
            "civil-registry",
            "--subject",
            CITIZEN["document_number"],
            "--server",
            url,
        )
        assert code == 0 and again["changed"] == [] and again["unchanged"] == 1
        code, _, stderr = _cli(
            env,
            "credential",
            "revoke",
            "--issuer",
            "civil-registry",
            "--credential-id",
            "nope",
            "--server",
            url,
        )
        assert code == 1 and "no credential" in stderr
        code, _, stderr = _cli(
            env,
            "offer",
            "create",
            "--issuer",
            "civil-registry",
            "--credential",
            "national_id",
            "--claims",
            str(claims),
            "--server",
            url,
            "--operator-key",
            "wrong" * 10,
        )
        assert code == 1 and "operator key" in stderr


def test_unreachable_server_is_reported(var_dir: Path, tmp_path: Path) -> None:
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(CITIZEN), encoding="utf-8")
    from tests.support.server import free_port, idwallet_env

    code, _, stderr = _cli(
        idwallet_env(var_dir),
        "offer",
        "create",
        "--issuer",
        "civil-registry",
        "--credential",
        "national_id",
        "--claims",
        str(claims),
        "--server",
        f"http://127.0.0.1:{free_port()}",
        "--operator-key",
        "k" * 40,
    )
    assert code == 1 and "server_unreachable" in stderr


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_application_list_approve_and_refuse(backend: str, var_dir: Path, tmp_path: Path) -> None:
    """A clerk's script decides the applications for a credential the agency approves
    first; the wallets then collect the approved one and are denied the refused one."""
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(LORRY_DRIVER), encoding="utf-8")
    url = migrated_database(backend_url(backend, tmp_path))
    with running_server(var_dir, IDWALLET_DATABASE_URL=url) as server:
        env = server.env
        agency = ("--issuer", "transport-agency", "--server", server.base_url)
        asked = []
        with httpx.Client(base_url=server.base_url) as client:
            for subject in ("driver-1", "driver-2"):
                code, offer, stderr = _cli(
                    env,
                    "offer",
                    "create",
                    *agency,
                    "--credential",
                    "professional_driving_licence",
                    "--claims",
                    str(claims),
                    "--subject",
                    subject,
                )
                assert code == 0, stderr
                request = Wallet(client).request(offer["offer_uri"])  # type: ignore[arg-type]
                assert request.response.status_code == 202, request.response.text
                asked.append(request)
            code, listed, stderr = _cli(env, "application", "list", *agency, "--state", "pending")
            assert code == 0, stderr
            by_subject = {a["subject_id"]: a for a in listed["applications"]}
            assert set(by_subject) == {"driver-1", "driver-2"}
            assert by_subject["driver-1"]["claims"] == LORRY_DRIVER
            first, second = (by_subject[s]["application_id"] for s in ("driver-1", "driver-2"))

            code, approved, stderr = _cli(env, "application", "approve", *agency, first)
            assert code == 0 and approved["state"] == "approved", stderr
            code, _, stderr = _cli(env, "application", "approve", *agency, first)
            assert code == 1 and "cannot be decided any more" in stderr
            reason = ("--reason", "certificate not signed by a doctor")
            code, refused, stderr = _cli(env, "application", "refuse", *agency, second, *reason)
            assert code == 0 and refused["state"] == "refused", stderr
            assert refused["refusal_reason"] == "certificate not signed by a doctor"
            code, _, stderr = _cli(env, "application", "refuse", *agency, "0" * 32)
            assert code == 1 and "no such application" in stderr

            collected, denied = (
                Wallet(client).deferred_credential(  # type: ignore[arg-type]
                    a.metadata, a.access_token, a.response.json()["transaction_id"]
                )
                for a in asked
            )
            assert collected.status_code == 200 and len(collected.json()["credentials"]) == 1
            assert denied.status_code == 400
            assert denied.json()["error"] == "credential_request_denied"
        code, listed, stderr = _cli(env, "application", "list", *agency)
        assert code == 0, stderr
        assert [a["state"] for a in listed["applications"]] == ["delivered", "refused"]
        code, pending, _ = _cli(env, "application", "list", *agency, "--state", "pending")
        assert code == 0 and pending == {"applications": []}
