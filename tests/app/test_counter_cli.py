"""Counter scripts: ``idwallet presentation request`` and ``idwallet presentation result``
against a running server, with a citizen's wallet in between; after the agency revokes the
credential with ``idwallet credential revoke``, the next check fails on its status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509

from app.bootstrap import ANCHOR_CERT_FILE
from tests.app.test_agency_cli import _cli
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.wallet import Wallet
from tests.support.server import running_server
from tests.verifiers.presenter import fetch_request, present, respond


def _check_age(env: dict[str, str], url: str, client: Any, anchor: Any, wallet: Any) -> Any:
    code, created, stderr = _cli(
        env,
        "presentation",
        "request",
        "--verifier",
        "bar-age-check",
        "--template",
        "age_over_18",
        "--response-mode",
        "direct_post.jwt",
        "--server",
        url,
    )
    assert code == 0, stderr
    assert created["transaction_id"] and created["uri"].startswith("openid4vp://")
    credential, holder = wallet
    request = fetch_request(client, created["uri"], anchor=anchor)
    answer = present(credential, holder, request, {"age_over_18": True})
    response = respond(client, request, {"national_id": [answer]})
    code, result, stderr = _cli(
        env, "presentation", "result", created["transaction_id"], "--server", url
    )
    assert code == 0, stderr
    return response, result


def test_counter_checks_age_and_sees_a_revocation(var_dir: Path, tmp_path: Path) -> None:
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(CITIZEN), encoding="utf-8")
    with running_server(var_dir) as server, httpx.Client(base_url=server.base_url) as client:
        env, url = server.env, server.base_url
        anchor = x509.load_pem_x509_certificate((var_dir / ANCHOR_CERT_FILE).read_bytes())
        wallets = {}
        for subject in ("citizen-7", "citizen-8"):
            code, offer, stderr = _cli(
                env, "offer", "create", "--issuer", "civil-registry", "--credential",
                "national_id", "--claims", str(claims), "--subject", subject, "--server", url,
            )  # fmt: skip
            assert code == 0, stderr
            _, credentials, holders = Wallet(client).receive(offer["offer_uri"])  # type: ignore[arg-type]
            wallets[subject] = (credentials[0], holders[0])
        code, _, stderr = _cli(
            env, "credential", "revoke", "--issuer", "civil-registry", "--subject", "citizen-8",
            "--server", url,
        )  # fmt: skip
        assert code == 0, stderr

        response, result = _check_age(env, url, client, anchor, wallets["citizen-7"])
        assert response.status_code == 200, response.text
        assert result["status"] == "verified"
        assert result["result"]["credentials"]["national_id"][0]["claims"] == {"age_over_18": True}

        response, result = _check_age(env, url, client, anchor, wallets["citizen-8"])
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
        assert result["status"] == "failed"
        assert result["result"]["checks"][-1] == {
            "check": "national_id: status",
            "passed": False,
            "detail": "the credential is revoked",
        }
