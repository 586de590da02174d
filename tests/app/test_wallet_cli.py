"""``idwallet wallet``: the reference client of the mobile API, as a mediator or a script
uses it against a running server: register, receive (with the transaction code), list,
show the consent view without answering, approve leaving nothing behind but what is
asked, decline, the activity log; refusals exit non-zero with a JSON error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.app.test_agency_cli import _cli
from tests.issuers.test_catalog import CITIZEN
from tests.support.server import ROOT, running_server


def _wallet(env: dict[str, str], url: str, wallet_file: Path, *args: str) -> tuple[int, Any]:
    """Exit code and the one JSON object printed, success or refusal alike."""
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "wallet", *args, "--server", url,
         "--wallet-file", str(wallet_file)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return result.returncode, json.loads(result.stdout)


def _age_request(env: dict[str, str], url: str) -> dict[str, Any]:
    code, created, stderr = _cli(
        env, "presentation", "request", "--verifier", "bar-age-check",
        "--template", "age_over_18", "--server", url,
    )  # fmt: skip
    assert code == 0, stderr
    return created  # type: ignore[no-any-return]


def test_a_mediator_receives_and_presents_for_a_citizen(var_dir: Path, tmp_path: Path) -> None:
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(CITIZEN), encoding="utf-8")
    wallet_file = tmp_path / "citizen.json"
    with running_server(var_dir) as server:
        env, url = server.env, server.base_url
        code, registered = _wallet(env, url, wallet_file, "register")
        assert code == 0 and registered["account_id"]
        assert wallet_file.stat().st_mode & 0o077 == 0  # the keys are the citizen's alone

        code, offer, stderr = _cli(
            env, "offer", "create", "--issuer", "civil-registry", "--credential", "national_id",
            "--claims", str(claims), "--tx-code", "--server", url,
        )  # fmt: skip
        assert code == 0, stderr
        code, refused = _wallet(
            env, url, wallet_file, "receive", offer["offer_uri"], "--tx-code", "000000"
        )
        assert code == 1 and refused["error"] == "invalid_grant"  # the offer survives a typo
        code, received = _wallet(
            env, url, wallet_file, "receive", offer["offer_uri"], "--tx-code", offer["tx_code"]
        )
        assert code == 0, received
        assert received["status"] == "received" and received["credentials"][0]["instances"] == 3

        code, listed = _wallet(env, url, wallet_file, "list")
        assert code == 0 and [c["status"] for c in listed["credentials"]] == ["valid"]

        created = _age_request(env, url)
        code, consent = _wallet(env, url, wallet_file, "present", created["uri"])
        assert code == 0 and consent["answered"] is False
        view = consent["consent"]
        assert view["verifier"]["authenticated"] and view["satisfiable"]
        assert [c["name"] for c in view["requests"][0]["claims"]] == ["age_over_18"]
        code, status, _ = _cli(
            env, "presentation", "result", created["transaction_id"], "--server", url
        )
        assert status["status"] == "request_fetched"  # fetched, not answered

        created = _age_request(env, url)
        code, result = _wallet(env, url, wallet_file, "present", created["uri"], "--approve")
        assert code == 0 and result["outcome"] == "accepted", result
        code, status, _ = _cli(
            env, "presentation", "result", created["transaction_id"], "--server", url
        )
        assert status["status"] == "verified"
        assert status["result"]["credentials"]["national_id"][0]["claims"] == {"age_over_18": True}

        created = _age_request(env, url)
        code, declined = _wallet(env, url, wallet_file, "present", created["uri"], "--decline")
        assert code == 0 and declined["status"] == "declined"
        code, status, _ = _cli(
            env, "presentation", "result", created["transaction_id"], "--server", url
        )
        assert status["status"] == "failed"

        code, activity = _wallet(env, url, wallet_file, "activity")
        kinds = [entry["kind"] for entry in activity["activity"]]
        assert kinds[:2] == ["presentation_declined", "presentation_sent"]
        assert "credential_received" in kinds and "device_registered" in kinds
        sent = activity["activity"][1]
        assert len(sent["shared"][0]["claims"]) == 1 and sent["verifier_authenticated"]

        code, refused = _wallet(
            env, url, wallet_file, "present", "https://example.org/not-a-request"
        )
        assert code == 1 and refused["error"] == "invalid_request"


def _browse(url: str) -> str:
    """The citizen's browser at the issuer's authorization page: where it is sent back."""
    with httpx.Client() as browser:
        answer = browser.get(url, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def test_a_citizen_gets_credentials_online_from_the_command_line(
    var_dir: Path, tmp_path: Path
) -> None:
    """``issue`` and ``receive`` of an online offer print the URL to open; ``authorized``
    finishes with the redirect the browser reached, the phone's keys signing."""
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(CITIZEN), encoding="utf-8")
    wallet_file = tmp_path / "citizen.json"
    with running_server(var_dir, IDWALLET_TEST_CITIZEN="demo-citizen") as server:
        env, url = server.env, server.base_url
        assert _wallet(env, url, wallet_file, "register")[0] == 0
        code, started = _wallet(
            env, url, wallet_file, "issue", "--issuer", f"{url}/issuers/transport-agency",
            "--credential", "driving_licence",
        )  # fmt: skip
        assert code == 0, started
        assert started["status"] == "authorization_required"
        assert set(started) == {"status", "issuance_id", "authorization_url"}
        redirect = _browse(started["authorization_url"])
        assert redirect.startswith(f"{url}/wallet/callback?")
        code, received = _wallet(
            env, url, wallet_file, "authorized", started["issuance_id"], redirect
        )
        assert code == 0, received
        assert received["status"] == "received"
        assert received["credentials"][0]["credential_configuration_id"] == "driving_licence"
        # the same redirect again: refused with a JSON error, nothing more stored
        code, again = _wallet(env, url, wallet_file, "authorized", started["issuance_id"], redirect)
        assert code == 1 and again["error"] == "invalid_request"

        code, offer, stderr = _cli(
            env, "offer", "create", "--issuer", "civil-registry", "--credential", "national_id",
            "--claims", str(claims), "--subject", "demo-citizen", "--grant", "authorization_code",
            "--server", url,
        )  # fmt: skip
        assert code == 0, stderr
        code, online = _wallet(env, url, wallet_file, "receive", offer["offer_uri"])
        assert code == 0 and online["status"] == "authorization_required", online
        code, received = _wallet(
            env, url, wallet_file, "authorized", online["issuance_id"],
            _browse(online["authorization_url"]),
        )  # fmt: skip
        assert code == 0 and received["status"] == "received", received
        # a deferred credential: pending until a clerk approves, then fetched
        code, started = _wallet(
            env, url, wallet_file, "issue", "--issuer", f"{url}/issuers/transport-agency",
            "--credential", "professional_driving_licence",
        )  # fmt: skip
        code, waiting = _wallet(
            env, url, wallet_file, "authorized", started["issuance_id"],
            _browse(started["authorization_url"]),
        )  # fmt: skip
        assert code == 0 and waiting["status"] == "pending", waiting
        code, pending = _wallet(env, url, wallet_file, "pending")
        assert [i["issuance_id"] for i in pending["issuances"]] == [started["issuance_id"]]
        code, applications, stderr = _cli(
            env, "application", "list", "--issuer", "transport-agency", "--server", url
        )
        assert code == 0, stderr
        [application] = applications["applications"]
        code, _, stderr = _cli(
            env, "application", "approve", "--issuer", "transport-agency",
            application["application_id"], "--server", url,
        )  # fmt: skip
        assert code == 0, stderr
        code, fetched = _wallet(env, url, wallet_file, "fetch", started["issuance_id"])
        assert code == 0 and fetched["status"] == "received", fetched
        assert _wallet(env, url, wallet_file, "pending")[1] == {"issuances": []}

        code, listed = _wallet(env, url, wallet_file, "list")
        assert sorted(c["name"] for c in listed["credentials"]) == [
            "Driving licence",
            "National identity card",
            "Professional driving licence",
        ]
        # the national ID is one-time, its keys on this wallet: it asks for fresh copies
        [national] = [c for c in listed["credentials"] if c["name"] == "National identity card"]
        assert (national["use_policy"], national["renewed_by"]) == ("one_time", "phone")
        assert _wallet(env, url, wallet_file, "renew") == (0, {"renewed": []})  # none due
        code, renewed = _wallet(env, url, wallet_file, "renew", national["credential_id"])
        assert code == 0, renewed
        assert [(c["credential_id"], c["instances"]) for c in renewed["renewed"]] == [
            (national["credential_id"], 2 * national["instances"])
        ]
        code, unknown = _wallet(env, url, wallet_file, "renew", "no-such-credential")
        assert code == 1 and unknown["error"] == "invalid_request"


def test_a_citizen_shows_the_national_id_from_the_command_line_to_get_a_licence(
    var_dir: Path, tmp_path: Path
) -> None:
    """Presentation during issuance with the command-line wallet: ``issue`` prints the
    agency's URL, the browser there shows the identity check's request, ``present``
    prints the consent view (the agency asks in order to issue the awaited licence) and
    answers it from the same wallet, the page sends the browser back, and ``authorized``
    finishes with the licence from the register."""
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps(CITIZEN), encoding="utf-8")
    wallet_file = tmp_path / "citizen.json"
    with running_server(var_dir) as server:
        env, url = server.env, server.base_url
        assert _wallet(env, url, wallet_file, "register")[0] == 0
        code, offer, stderr = _cli(
            env, "offer", "create", "--issuer", "civil-registry", "--credential", "national_id",
            "--claims", str(claims), "--server", url,
        )  # fmt: skip
        assert code == 0, stderr
        assert _wallet(env, url, wallet_file, "receive", offer["offer_uri"])[0] == 0

        code, started = _wallet(
            env, url, wallet_file, "issue", "--issuer", f"{url}/issuers/transport-agency",
            "--credential", "driving_licence",
        )  # fmt: skip
        assert code == 0, started
        with httpx.Client() as browser:  # one browser, its cookies kept
            sent = browser.get(started["authorization_url"], follow_redirects=False)
            assert sent.status_code == 303, sent.text
            page = sent.headers["location"]
            assert "/presentation-login/" in page
            asked = browser.get(f"{page}/status").json()
            # the consent printed says the agency asks for the licence this wallet awaits
            code, shown = _wallet(env, url, wallet_file, "present", asked["uri"])
            assert code == 0 and shown["answered"] is False, shown
            issuance = shown["consent"]["issuance"]
            assert issuance["issuer_name"] == "Transport Agency", issuance
            assert issuance["awaiting_authorization"] is True, issuance
            code, shared = _wallet(env, url, wallet_file, "present", asked["uri"], "--approve")
            assert code == 0 and shared["outcome"] == "accepted", shared
            assert browser.get(f"{page}/status").json()["status"] == "verified"
            back = browser.get(f"{page}/complete", follow_redirects=False)
            assert back.status_code == 303, back.text
        redirect = back.headers["location"]
        assert redirect.startswith(f"{url}/wallet/callback?")
        code, received = _wallet(
            env, url, wallet_file, "authorized", started["issuance_id"], redirect
        )
        assert code == 0 and received["status"] == "received", received
        code, listed = _wallet(env, url, wallet_file, "list")
        licence = next(c for c in listed["credentials"] if c["name"] == "Driving licence")
        assert licence["status"] == "valid"
