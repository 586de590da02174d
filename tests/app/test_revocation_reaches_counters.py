"""A revoked credential is refused at the deployment's own counters within seconds, not
after the status list's ``ttl`` (300 s): a real ``idwallet serve --workers 2`` (SQLite and
PostgreSQL), a national ID issued over HTTP and presented at a counter until each worker
has verified it (so each holds the status list in its cache), then revoked through the
operator API; every presentation after that, on either worker, is refused by its status
check once ``IDWALLET_STATUS_LIST_REVALIDATE`` (1 s here) has passed.

And in process, what a counter's cache exchanges with the agency's real status list
endpoint: ``304`` to its ``If-None-Match`` while nothing changed, the revoked list at the
first question after the revocation (the ``ETag`` follows the list's version)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from litestar import Litestar
from litestar.testing import TestClient

from app.bootstrap import ANCHOR_CERT_FILE
from app.factory import create_app
from app.settings import Settings
from core.clock import FixedClock
from core.encoding import b64url_decode
from core.http.client import OutboundClient
from core.http.published_documents import PublishedDocuments
from core.keys.signer import SoftwareSigner
from core.status_list.bits import StatusList
from tests.conftest import migrated_database
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer, operator_key
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


@pytest.fixture
def client(var_dir: Path, database_url: str) -> Iterator[TestClient[Any]]:
    settings = Settings(
        var_dir=var_dir,
        database_url=migrated_database(database_url),
        public_base_url=PUBLIC_BASE_URL,
    )
    with TestClient(app=create_app(settings), base_url=PUBLIC_BASE_URL) as client:
        yield client


class RecordingTransport(httpx.AsyncBaseTransport):
    """The application itself, in process, with each exchange written down: the request's
    ``If-None-Match`` and the status the status list endpoint answered."""

    def __init__(self, app: Litestar) -> None:
        self._app = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self.seen: list[tuple[str | None, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._app.handle_async_request(request)
        self.seen.append((request.headers.get("if-none-match"), response.status_code))
        return response


def _status_in(token: str, index: int) -> int:
    payload = json.loads(b64url_decode(token.split(".")[1]))
    return StatusList.from_json(payload["status_list"]).get(index)


def test_the_status_list_endpoint_answers_304_until_a_revocation(
    client: TestClient[Any],
) -> None:
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN, subject="stolen-id")
    _, credentials, _ = Wallet(client).receive(offer["offer_uri"])
    status = json.loads(b64url_decode(credentials[0].split(".")[1]))["status"]["status_list"]
    uri, index = status["uri"], int(status["idx"])
    portal = client.blocking_portal
    transport = RecordingTransport(client.app)
    clock = FixedClock(time.time())

    async def documents_in_the_app() -> PublishedDocuments:
        outbound = OutboundClient(local={PUBLIC_BASE_URL: transport})
        return PublishedDocuments(outbound, revalidate=10, clock=clock)

    documents = portal.call(documents_in_the_app)
    first = portal.call(documents.fetch, uri)
    assert _status_in(first, index) == 0 and transport.seen == [(None, 200)]
    etag = client.get(uri.removeprefix(PUBLIC_BASE_URL)).headers["etag"]

    clock.advance(11)
    assert portal.call(documents.fetch, uri) == first
    assert transport.seen[1:] == [(etag, 304)]

    revoked = client.post(
        "/issuers/civil-registry/credentials/revoke",
        json={"subject_id": "stolen-id", "reason": "reported stolen"},
        headers={"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"},
    )
    assert revoked.status_code == 200, revoked.text
    assert portal.call(documents.fetch, uri) == first  # within the interval: not asked
    clock.advance(11)
    fresh = portal.call(documents.fetch, uri)
    assert _status_in(fresh, index) == 1  # revoked
    assert transport.seen[2:] == [(etag, 200)]
