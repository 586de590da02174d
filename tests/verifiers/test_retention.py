"""The counter keeps no more personal data than it needs: results are purged after the
retention, and a request nobody answered in time shows as expired and takes no answer."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from app.housekeeping import purge_and_forget
from app.models import metadata
from core.storage.engine import WAL_SIZE_LIMIT, create_engine
from tests.verifiers.presenter import (
    create_request,
    fetch_request,
    present,
    respond,
    transaction_status,
)
from tests.verifiers.test_presentation import issued
from verifiers.domain import Transaction, TransactionState
from verifiers.storage.sql import SqlTransactionStore


def test_results_are_purged_after_the_retention(client: TestClient[Any]) -> None:
    credential, holder = issued(client)
    created = create_request(client, "bar-age-check", template="age_over_18")
    request = fetch_request(client, created["uri"])
    assert (
        respond(
            client,
            request,
            {"national_id": [present(credential, holder, request, {"age_over_18": True})]},
        ).status_code
        == 200
    )
    context = client.app.state.verifiers
    kept = client.blocking_portal.call(
        context.transactions.purge, time.time() - context.policy.result_retention
    )
    assert kept == 0
    assert transaction_status(client, "bar-age-check", created["transaction_id"]).status_code == 200
    purged = client.blocking_portal.call(context.transactions.purge, time.time() + 1)
    assert purged >= 1
    gone = transaction_status(client, "bar-age-check", created["transaction_id"])
    assert gone.status_code == 404


def test_an_unanswered_request_expires(client: TestClient[Any]) -> None:
    credential, holder = issued(client)
    created = create_request(client, "bar-age-check", template="age_over_18")
    request = fetch_request(client, created["uri"])
    state = client.app.state
    later = time.time() + state.verifiers.policy.request_lifetime + 1

    class Later:
        def now(self) -> float:
            return later

    state.verifiers = dataclasses.replace(state.verifiers, clock=Later())
    status = transaction_status(client, "bar-age-check", created["transaction_id"]).json()
    assert status["status"] == "expired"
    answer = present(credential, holder, request, {"age_over_18": True})
    response = respond(client, request, {"national_id": [answer]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_purged_results_leave_no_trace_on_the_sqlite_disk(tmp_path: Path) -> None:
    """Proven claims of a purged result were found in the live ``-wal`` file minutes after
    the purge. A housekeeping pass now clears the write-ahead log after deleting, and the
    deleted rows are overwritten in the database file itself."""
    database = tmp_path / "counter.db"
    url = f"sqlite+aiosqlite:///{database}"
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    store = SqlTransactionStore(engine)
    marker = "Zzcanaryproven"
    try:
        now = time.time()
        for number in range(20):
            transaction = Transaction(
                transaction_id=f"t{number:04d}",
                verifier_id="bar-age-check",
                request_id=f"r{number:04d}",
                purpose="age_over_18",
                dcql_query={"credentials": []},
                nonce="n",
                state=f"s{number}",
                response_mode="direct_post",
                same_device=False,
                client_id="x509_hash:abc",
                status=TransactionState.WAITING,
                created_at=now,
                expires_at=now + 300,
            )
            await store.add(transaction)
            assert await store.mark_request_fetched(
                "bar-age-check", transaction.request_id, now, None
            )
            assert await store.complete(
                transaction.request_id,
                status=TransactionState.VERIFIED,
                result={"claims": {"national_id": [{"given_name": marker}]}, "checks": []},
                now=now,
                response_code_hash=None,
            )

        def on_disk() -> bytes:
            return b"".join(
                path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("counter")
            )

        assert marker.encode() in on_disk()
        purged = await purge_and_forget(lambda: store.purge(now + 1), engine)
        assert purged == 20
        assert marker.encode() not in on_disk()
        wal = tmp_path / "counter.db-wal"
        assert not wal.exists() or wal.stat().st_size <= WAL_SIZE_LIMIT
    finally:
        await engine.dispose()
