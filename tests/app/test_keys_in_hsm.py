"""Every key of a deployment in a PKCS#11 token (SoftHSM2), through a real ``idwallet
serve`` on SQLite and PostgreSQL: issuance, status lists, request objects and
presentations end to end; the token taken away mid-run (503 with ``Retry-After``, never
500, nothing signed by another key) and given back (service resumes by itself); no private
key or PIN in the database, the environment or the logs."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from sqlalchemy import text

from app.bootstrap import ANCHOR_CERT_FILE, ANCHOR_KEY_FILE
from core.encoding import b64url_decode
from core.jose.jws import verify_compact
from core.keys.x509 import leaf_public_key, validate_x5c
from core.storage.engine import create_engine
from tests.conftest import migrated_database
from tests.issuers.wallet import Wallet
from tests.support import postgres
from tests.support.server import ROOT, RunningServer, free_port, idwallet_env, running_server
from tests.support.softhsm import SoftHsm, new_softhsm, require_softhsm
from tests.support.write_load import offer_national_id, operator_headers
from tests.verifiers.presenter import fetch_request, present, respond

COUNTER = "bar-age-check"


@pytest.fixture
def hsm(tmp_path: Path) -> SoftHsm:
    """A token directory of this test's own: the server is another process, which reads
    its own ``SOFTHSM2_CONF``."""
    softhsm = new_softhsm(tmp_path / "softhsm", require_softhsm())
    softhsm.new_token("idwallet")
    return softhsm


def hsm_env(hsm: SoftHsm, pin_file: Path, **extra: str) -> dict[str, str]:
    pin_file.write_text(hsm.pin + "\n", encoding="utf-8")
    pin_file.chmod(0o600)
    return {
        **hsm.env(),
        "IDWALLET_KEY_PROVIDER": "pkcs11",
        "IDWALLET_PKCS11_MODULE": hsm.module,
        "IDWALLET_PKCS11_TOKEN": "idwallet",
        "IDWALLET_PKCS11_PIN_FILE": str(pin_file),
        **extra,
    }


@pytest.fixture
def server(
    hsm: SoftHsm, var_dir: Path, database_url: str, tmp_path: Path
) -> Iterator[RunningServer]:
    port = free_port()
    with running_server(
        var_dir,
        IDWALLET_PORT=str(port),
        IDWALLET_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        IDWALLET_DATABASE_URL=migrated_database(database_url),
        IDWALLET_STATUS_LIST_TTL="5",
        **hsm_env(hsm, tmp_path / "pin"),
    ) as running:
        yield running


def _header(jws: str) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(b64url_decode(jws.split(".", maxsplit=1)[0]))
    return header


def _present(http: httpx.Client, var_dir: Path, credential: str, holder: Any) -> httpx.Response:
    """A counter's age check answered with the credential: the counter's answer."""
    anchor = x509.load_pem_x509_certificate((var_dir / ANCHOR_CERT_FILE).read_bytes())
    asked = http.post(
        f"/verifiers/{COUNTER}/presentations",
        json={"template": "age_over_18"},
        headers=operator_headers(var_dir, COUNTER),
    )
    if asked.status_code != 201:
        return asked
    request = fetch_request(http, asked.json()["uri"], anchor=anchor)  # type: ignore[arg-type]
    answer = present(credential, holder, request, {"age_over_18": True})
    posted = respond(http, request, {"national_id": [answer]})  # type: ignore[arg-type]
    assert posted.status_code == 200, posted.text
    return http.get(
        f"/verifiers/{COUNTER}/presentations/{asked.json()['transaction_id']}",
        headers=operator_headers(var_dir, COUNTER),
    )


def _idwallet(var_dir: Path, env: dict[str, str], *args: str) -> str:
    """What ``idwallet ARGS`` prints, run beside the server with its environment."""
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=idwallet_env(var_dir, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def _keys(var_dir: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(_idwallet(var_dir, env, "keys", "show"))
    return rows


def _server_env(server: RunningServer) -> dict[str, str]:
    return {k: v for k, v in server.env.items() if k.startswith(("IDWALLET_", "SOFTHSM2_"))}


def test_issuance_status_lists_and_presentations_with_every_key_in_the_token(
    server: RunningServer, hsm: SoftHsm, var_dir: Path, database_url: str
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        offer = offer_national_id(http, var_dir, "hsm-citizen")
        _, credentials, holders = Wallet(http).receive(offer["offer_uri"])  # type: ignore[arg-type]
        credential = credentials[0]
        status = json.loads(b64url_decode(credential.split(".")[1]))["status"]["status_list"]
        listed = http.get(status["uri"].removeprefix(server.base_url))
        assert listed.status_code == 200
        result = _present(http, var_dir, credential, holders[0])
        assert result.json()["status"] == "verified", result.text

    keys = {row["kid"]: row for row in _keys(var_dir, _server_env(server))}
    issuer_kid = _header(credential.split("~")[0])["kid"]
    list_kid = _header(listed.text)["kid"]
    assert issuer_kid == list_kid and keys[issuer_kid]["location"] == "pkcs11"
    # the trust anchor was made in the token too: no wrapped key of it in var/
    assert (var_dir / ANCHOR_CERT_FILE).exists() and not (var_dir / ANCHOR_KEY_FILE).exists()
    owners = (
        "issuer:civil-registry",
        "issuer:civil-registry:request-encryption",  # ECDH-ES in the token
        f"verifier:{COUNTER}",
        "wallet-provider",
    )
    for owner in owners:
        (active,) = [r for r in keys.values() if r["owner"] == owner and r["retired_at"] is None]
        assert active["location"] == "pkcs11", active
    # nothing of a private key in the database, nor the PIN in the server's environment
    # or output
    rows = _signing_key_rows(server.env["IDWALLET_DATABASE_URL"])
    assert rows and all(loc == "pkcs11" and not wrapped for loc, wrapped in rows)
    environ = Path(f"/proc/{server.process.pid}/environ").read_bytes()
    assert hsm.pin.encode() not in environ and hsm.pin not in server.output
    assert "Traceback" not in server.output


def test_the_token_taken_away_fails_closed_and_service_resumes_when_it_is_back(
    server: RunningServer, hsm: SoftHsm, var_dir: Path
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        offer = offer_national_id(http, var_dir, "hsm-citizen")
        wallet = Wallet(http)  # type: ignore[arg-type]
        _, credentials, holders = wallet.receive(offer["offer_uri"])
        second = offer_national_id(http, var_dir, "hsm-citizen-2")

        hsm.remove("idwallet")
        asked = Wallet(http).request(second["offer_uri"])  # type: ignore[arg-type]
        refused = asked.response
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "temporarily_unavailable"
        assert int(refused.headers["retry-after"]) > 0
        counter = http.post(
            f"/verifiers/{COUNTER}/presentations",
            json={"template": "age_over_18"},
            headers=operator_headers(var_dir, COUNTER),
        )
        assert counter.status_code == 201, counter.text  # the request object is signed when fetched
        fetched = http.get(counter.json()["request_uri"].removeprefix(server.base_url))
        assert fetched.status_code == 503 and "retry-after" in fetched.headers, fetched.text
        revoked = http.post(  # the revocation is stored; the list cannot be signed now
            "/issuers/civil-registry/credentials/revoke",
            json={"subject_id": "hsm-citizen", "reason": "reported stolen"},
            headers=operator_headers(var_dir, "civil-registry"),
        )
        assert revoked.status_code == 200, revoked.text
        status = json.loads(b64url_decode(credentials[0].split(".")[1]))["status"]["status_list"]
        listed = http.get(status["uri"].removeprefix(server.base_url))
        assert listed.status_code == 503 and "retry-after" in listed.headers
        ready = http.get("/ready")
        assert ready.status_code == 503 and ready.json()["reason"] == "key store unavailable"

        hsm.restore("idwallet")
        time.sleep(1.2)  # the token is tried again after a pause, not on every request
        assert http.get("/ready").status_code == 200
        # the refused credential request goes through as it was sent
        again = wallet.credential(asked.metadata, asked.access_token, asked.body)
        assert again.status_code == 200, again.text
        listed = http.get(status["uri"].removeprefix(server.base_url))
        assert listed.status_code == 200
        with pytest.raises(AssertionError, match="the credential is revoked"):
            _present(http, var_dir, credentials[0], holders[0])  # as the new list says
    assert "Traceback" not in server.output and " 500 " not in server.output
    events = _events(var_dir, _server_env(server))
    assert [e["action"] for e in events if e["owner"].startswith("pkcs11:")][-2:] == [
        "unavailable",
        "resumed",
    ]


def _events(var_dir: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(_idwallet(var_dir, env, "keys", "events"))
    return list(reversed(events))


def _signing_key_rows(url: str) -> list[tuple[str, bytes]]:
    async def read() -> list[tuple[str, bytes]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text("SELECT location, wrapped_private_key FROM signing_keys")
                )
                return [(str(r[0]), bytes(r[1])) for r in rows]
        finally:
            await engine.dispose()

    return postgres.run_in_thread(read())


def _verified_by(credential: str, anchor: x509.Certificate) -> str:
    """The ``kid`` of the agency key whose signature of the credential verifies under its
    ``x5c`` chain to the deployment's anchor."""
    issuer_jwt = credential.split("~", maxsplit=1)[0]
    header = _header(issuer_jwt)
    leaf = validate_x5c(header["x5c"], [anchor], at=dt.datetime.now(dt.UTC))
    verify_compact(issuer_jwt, leaf_public_key(leaf), algorithms={"ES256"}, typ=None)
    kid: str = header["kid"]
    return kid


def test_rotation_under_load_switches_every_worker_at_once(
    hsm: SoftHsm, var_dir: Path, database_url: str, tmp_path: Path
) -> None:
    """Issuances in flight on two workers while the agency's key is rotated: every
    credential verifies, none begun after the rotation is signed by the retired key, the
    status list is signed again with the new key, and once the retired key is destroyed in
    the token what it signed still verifies."""
    port = free_port()
    with running_server(
        var_dir,
        IDWALLET_PORT=str(port),
        IDWALLET_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        IDWALLET_DATABASE_URL=migrated_database(database_url),
        IDWALLET_WORKERS="2",
        IDWALLET_RETIRED_KEY_OVERLAP="0",
        **hsm_env(hsm, tmp_path / "pin"),
    ) as server:
        env = _server_env(server)
        anchor = x509.load_pem_x509_certificate((var_dir / ANCHOR_CERT_FILE).read_bytes())
        issued: list[tuple[float, str, Any]] = []
        failures: list[str] = []
        stop = threading.Event()

        def issue() -> None:
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                while not stop.is_set():
                    began = time.time()
                    try:
                        offer = offer_national_id(http, var_dir, f"rotating-{began}")
                        _, credentials, holders = Wallet(http).receive(offer["offer_uri"])  # type: ignore[arg-type]
                    except AssertionError as exc:
                        failures.append(str(exc)[:300])
                        continue
                    issued.append((began, credentials[0], holders[0]))

        threads = [threading.Thread(target=issue) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(2)
            before = {
                r["kid"] for r in _keys(var_dir, env) if r["owner"] == "issuer:civil-registry"
            }
            rotated = _idwallet(var_dir, env, "keys", "rotate", "--owner", "issuer:civil-registry")
            switched = time.time()
            time.sleep(2)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        assert not failures, failures[:3]
        (old,) = before
        new = rotated.split("new active key ")[1].split()[0]
        signed_by = [(began, _verified_by(credential, anchor)) for began, credential, _ in issued]
        assert {kid for _, kid in signed_by} == {old, new}, signed_by
        assert all(kid == new for began, kid in signed_by if began > switched)
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            first = issued[0][1]
            status = json.loads(b64url_decode(first.split(".")[1]))["status"]["status_list"]
            listed = http.get(status["uri"].removeprefix(server.base_url))
            assert listed.status_code == 200 and _header(listed.text)["kid"] == new

            destroyed = json.loads(_idwallet(var_dir, env, "keys", "destroy-retired"))
            assert old in destroyed["destroyed"]
            # the credential signed by the destroyed key is still verified at a counter
            _, credential, holder = next(i for i in issued if _verified_by(i[1], anchor) == old)
            result = _present(http, var_dir, credential, holder)
            assert result.json()["status"] == "verified", result.text
        actions = [(e["kid"], e["action"]) for e in _events(var_dir, env)]
        assert (new, "rotated") in actions and (old, "destroyed") in actions
    assert "Traceback" not in server.output


def test_a_server_started_while_its_token_is_away_serves_once_it_is_back(
    hsm: SoftHsm, var_dir: Path, tmp_path: Path
) -> None:
    """No key exists yet and the token is away at start-up: the server comes up not ready
    (nothing can be signed or certified), and serves without a restart once the token is
    back, making its keys in the token then."""
    port = free_port()
    env = {
        "IDWALLET_PORT": str(port),
        "IDWALLET_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **hsm_env(hsm, tmp_path / "pin"),
    }
    # its first start made the trust anchor in the token; the agencies' keys are made at
    # their first use
    _idwallet(var_dir, env, "migrate")
    hsm.remove("idwallet")
    with (
        running_server(var_dir, **env) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        ready = http.get("/ready")
        assert ready.status_code == 503 and ready.json()["reason"] == "key store unavailable"
        offer = offer_national_id(http, var_dir, "early-citizen")  # nothing to sign
        # the agency's metadata publishes a key the token has not made yet
        refused = http.get("/.well-known/openid-credential-issuer/issuers/civil-registry")
        assert refused.status_code == 503 and "retry-after" in refused.headers, refused.text
        hsm.restore("idwallet")
        time.sleep(1.2)
        assert http.get("/ready").status_code == 200
        offer = offer_national_id(http, var_dir, "early-citizen")
        _, credentials, holders = Wallet(http).receive(offer["offer_uri"])  # type: ignore[arg-type]
        result = _present(http, var_dir, credentials[0], holders[0])
        assert result.json()["status"] == "verified", result.text
    assert "Traceback" not in server.output
