"""The counter keeps no more personal data than it needs: results are purged after the
retention, and a request nobody answered in time shows as expired and takes no answer."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from litestar.testing import TestClient

from tests.verifiers.presenter import (
    create_request,
    fetch_request,
    present,
    respond,
    transaction_status,
)
from tests.verifiers.test_presentation import issued


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
