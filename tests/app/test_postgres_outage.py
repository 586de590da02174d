"""SECURITY-CASES F05: PostgreSQL restarted, then stopped and started again, under write
load, on a throwaway cluster of the suite's own (its server controls are ours to use),
with two workers. While the database is away every answer is 503 with Retry-After,
never a 500 or a traceback; the workers' pools recover by themselves; every write
acknowledged 2xx is in the database afterwards and the invariants hold."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import migrated_database
from tests.issuers.test_catalog import CITIZEN
from tests.support import postgres
from tests.support.invariants import assert_invariants
from tests.support.server import free_port, running_server
from tests.support.write_load import (
    Ledger,
    assert_ledger_in_database,
    operator_headers,
    write_until,
)

pytestmark = pytest.mark.postgres
CLIENTS = 4
STEP = 60  # acknowledged writes between the phases


@pytest.fixture
def cluster() -> Iterator[postgres.PostgresServer]:
    server = postgres.start_throwaway()
    if server.url is None:
        if os.environ.get("CI"):
            pytest.fail(f"F05 needs a throwaway PostgreSQL cluster: {server.origin}")
        pytest.skip(server.origin)
    try:
        yield server
    finally:
        server.stop()


def _wait_for(condition: object, seconds: float) -> float:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < seconds, "timed out"
        time.sleep(0.02)
    return time.monotonic() - started


def test_f05_postgresql_restart_under_load(cluster: postgres.PostgresServer, var_dir: Path) -> None:
    assert cluster.url is not None
    url = migrated_database(
        postgres.run_in_thread(postgres.create_database(cluster.url, "idwallet_f05"))
    )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    ledger = Ledger()
    with running_server(
        var_dir,
        IDWALLET_PORT=str(port),
        IDWALLET_DATABASE_URL=url,
        IDWALLET_PUBLIC_BASE_URL=base_url,
        IDWALLET_WORKERS="2",
    ) as server:
        writers, failures, done = write_until(base_url, var_dir, ledger, CLIENTS, lambda: False)
        try:
            _wait_for(lambda: ledger.writes() >= STEP or failures, 120)

            cluster.restart()  # a fast restart under load
            mark = ledger.writes()
            restart_recovery = _wait_for(lambda: ledger.writes() >= mark + STEP or failures, 60)

            cluster.halt()  # and a longer outage
            with httpx.Client(base_url=base_url, timeout=30) as http:
                ready = http.get("/ready")
                assert ready.status_code == 503 and ready.headers["Retry-After"]
                offer = http.post(
                    "/issuers/civil-registry/offers",
                    json={
                        "subject_id": "x",
                        "credential_configuration_id": "national_id",
                        "claims": CITIZEN,
                    },
                    headers=operator_headers(var_dir, "civil-registry"),
                )
                assert offer.status_code == 503, offer.text
                assert offer.headers["Retry-After"]
                assert offer.json()["error"] == "temporarily_unavailable"
                time.sleep(1.5)  # the writers meet the outage too
                cluster.resume()
                mark = ledger.writes()
                outage_recovery = _wait_for(lambda: ledger.writes() >= mark + STEP or failures, 60)
                assert http.get("/ready").status_code == 200
        finally:
            done.set()
            for writer in writers:
                writer.join(timeout=60)
    assert not failures, (failures[0], server.output[-6000:])
    assert ledger.statuses[503] > 0, ledger.statuses
    assert all(status < 500 or status == 503 for status in ledger.statuses), ledger.statuses
    assert "Traceback" not in server.output
    assert restart_recovery < 30 and outage_recovery < 30
    assert_ledger_in_database(url, ledger)
    assert_invariants(url)
