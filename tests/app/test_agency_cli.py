"""Agency scripts: ``idwallet offer create`` and ``idwallet credential …`` against a
running server, as an agency would run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from core.encoding import b64url_decode
from tests.issuers.test_catalog import CITIZEN
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
