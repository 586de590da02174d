"""A revoked credential is refused at the deployment's own counters within seconds, not
after the status list's ``ttl`` (300 s): a real ``idwallet serve --workers 2`` (SQLite and
PostgreSQL), a national ID issued over HTTP and presented at a counter until each worker
has verified it (so each holds the status list in its cache), then revoked through the
operator API; every presentation after that, on either worker, is refused by its status
check once ``IDWALLET_STATUS_LIST_REVALIDATE`` (1 s here) has passed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509

from app.bootstrap import ANCHOR_CERT_FILE
from core.keys.signer import SoftwareSigner
from tests.conftest import migrated_database
from tests.issuers.wallet import Wallet
from tests.support.server import RunningServer, free_port, running_server
from tests.support.workers import worker_of
from tests.support.write_load import offer_national_id, operator_headers
from tests.verifiers.presenter import fetch_request, present, respond

REVALIDATE = 1
WORKERS = 2
COUNTER = "bar-age-check"


class Counter:
    """A counter asking for ``age_over_18`` and a wallet answering it with one credential,
    each answer posted on a connection kept to one worker, which is then named."""

    def __init__(self, server: RunningServer, var_dir: Path, credential: str, holder: Any):
        self.server, self.var_dir = server, var_dir
        self.credential, self.holder = credential, holder
        self.port = int(server.base_url.rsplit(":", 1)[1])
        self.anchor = x509.load_pem_x509_certificate((var_dir / ANCHOR_CERT_FILE).read_bytes())

    def present_on(self, connection: httpx.Client) -> tuple[int, dict[str, Any]]:
        """The worker that checked the answer, and the counter's result."""
        asked = connection.post(
            f"/verifiers/{COUNTER}/presentations",
            json={"template": "age_over_18"},
            headers=operator_headers(self.var_dir, COUNTER),
        )
        assert asked.status_code == 201, asked.text
        request = fetch_request(connection, asked.json()["uri"], anchor=self.anchor)  # type: ignore[arg-type]
        answer = present(self.credential, self.holder, request, {"age_over_18": True})
        posted = respond(connection, request, {"national_id": [answer]})  # type: ignore[arg-type]
        worker = worker_of(self.server.process.pid, self.port, posted)
        result = connection.get(
            f"/verifiers/{COUNTER}/presentations/{asked.json()['transaction_id']}",
            headers=operator_headers(self.var_dir, COUNTER),
        ).json()
        assert (posted.status_code == 200) == (result["status"] == "verified"), posted.text
        return worker, result


def _connections_to_each_worker(server: RunningServer) -> dict[int, httpx.Client]:
    """One kept-alive connection per worker (new connections until each worker took one)."""
    port = int(server.base_url.rsplit(":", 1)[1])
    pinned: dict[int, httpx.Client] = {}
    for _ in range(100):
        connection = httpx.Client(base_url=server.base_url, timeout=30)
        worker = worker_of(server.process.pid, port, connection.get("/health"))
        if worker in pinned:
            connection.close()
        else:
            pinned[worker] = connection
        if len(pinned) == WORKERS:
            return pinned
    raise AssertionError(f"100 connections reached only the workers {sorted(pinned)}")


def _status_check(result: dict[str, Any]) -> dict[str, Any]:
    checks = [c for c in result["result"]["checks"] if c["check"].endswith("status")]
    assert checks, result
    check: dict[str, Any] = checks[-1]
    return check


def test_a_revoked_id_is_refused_at_once_by_every_worker(var_dir: Path, database_url: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running_server(
        var_dir,
        IDWALLET_PORT=str(port),
        IDWALLET_PUBLIC_BASE_URL=base,
        IDWALLET_DATABASE_URL=migrated_database(database_url),
        IDWALLET_WORKERS=str(WORKERS),
        IDWALLET_STATUS_LIST_REVALIDATE=str(REVALIDATE),
    ) as server:
        with httpx.Client(base_url=base, timeout=30) as http:
            offer = offer_national_id(http, var_dir, "stolen-id")
            _, credentials, holders = Wallet(http).receive(offer["offer_uri"])  # type: ignore[arg-type]
        holder: SoftwareSigner = holders[0]
        counter = Counter(server, var_dir, credentials[0], holder)
        pinned = _connections_to_each_worker(server)
        try:
            verified_by: list[int] = []
            for connection in pinned.values():  # each worker caches the list
                for _ in range(2):
                    served, result = counter.present_on(connection)
                    assert result["status"] == "verified", result
                    assert _status_check(result)["passed"] is True
                    verified_by.append(served)
            assert set(verified_by) == set(pinned), verified_by

            with httpx.Client(base_url=base, timeout=30) as http:
                revoked = http.post(
                    "/issuers/civil-registry/credentials/revoke",
                    json={"subject_id": "stolen-id", "reason": "reported stolen"},
                    headers=operator_headers(var_dir, "civil-registry"),
                )
            assert revoked.status_code == 200, revoked.text
            time.sleep(REVALIDATE + 0.2)  # the interval, not the list's ttl of 300 s

            refused_by: list[int] = []
            for connection in [*pinned.values(), *pinned.values()]:
                served, result = counter.present_on(connection)
                assert result["status"] == "failed", json.dumps(result)
                check = _status_check(result)
                assert check["passed"] is False and "revoked" in check["detail"], check
                refused_by.append(served)
            assert set(refused_by) == set(pinned), refused_by
        finally:
            for connection in pinned.values():
                connection.close()
    assert "Traceback" not in server.output
