"""Under concurrency, on SQLite and PostgreSQL: many fetches of one request object all get
the same request (one nonce, one state); of many identical answers, exactly one is
accepted; of many exchanges of one same-device response code, exactly one releases the
result (SECURITY-CASES F11, with V19 for the sequential replay)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from litestar.testing import TestClient
from sqlalchemy import text

from tests.verifiers.presenter import (
    create_request,
    fetch_request,
    present,
    respond,
    transaction_status,
)
from tests.verifiers.test_presentation import issued

CONCURRENT = 12


async def _all(app: Any, send: Any) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://id.example.gov") as http:
        return list(await asyncio.gather(*(send(http) for _ in range(CONCURRENT))))


def _run(client: TestClient[Any], send: Any) -> list[httpx.Response]:
    portal = client.blocking_portal  # the event loop the app (and its database pool) runs on
    responses: list[httpx.Response] = portal.call(_all, client.app, send)
    return responses


def _trail(client: TestClient[Any]) -> dict[str, int]:
    """The counter's entries in the deployment's audit trail, by action."""

    async def count() -> dict[str, int]:
        async with client.app.state.deployment.sessions() as session:
            rows = await session.execute(
                text(
                    "SELECT action, count(*) FROM audit_entries"
                    " WHERE actor = 'bar-age-check' AND action LIKE 'presentation.%'"
                    " GROUP BY action"
                )
            )
            return {str(action): int(n) for action, n in rows}

    counted: dict[str, int] = client.blocking_portal.call(count)
    return counted


def test_request_object_fetched_at_once_is_one_request(client: TestClient[Any]) -> None:
    created = create_request(client, "bar-age-check", template="age_over_18")
    path = urlsplit(created["request_uri"]).path
    responses = _run(client, lambda http: http.get(path))
    assert [r.status_code for r in responses] == [200] * CONCURRENT
    payloads = [jwt.decode(r.text, options={"verify_signature": False}) for r in responses]
    assert len({(p["nonce"], p["state"]) for p in payloads}) == 1
    status = transaction_status(client, "bar-age-check", created["transaction_id"]).json()
    assert status["status"] == "request_fetched"


def test_one_answer_accepted(client: TestClient[Any]) -> None:
    credential, holder = issued(client)
    created = create_request(client, "bar-age-check", template="age_over_18")
    request = fetch_request(client, created["uri"])
    answer = present(credential, holder, request, {"age_over_18": True})
    path = urlsplit(request.payload["response_uri"]).path
    form = {"vp_token": '{"national_id": ["' + answer + '"]}', "state": request.payload["state"]}
    responses = _run(client, lambda http: http.post(path, data=form))
    assert sorted(r.status_code for r in responses) == [200] + [400] * (CONCURRENT - 1)
    status = transaction_status(client, "bar-age-check", created["transaction_id"]).json()
    assert status["status"] == "verified"
    # the trail entry is written with the move it records: one answer, one entry
    assert _trail(client) == {"presentation.requested": 1, "presentation.answered": 1}


def test_response_code_released_once(client: TestClient[Any]) -> None:
    credential, holder = issued(client)
    created = create_request(client, "bar-age-check", template="age_over_18", same_device=True)
    request = fetch_request(client, created["uri"])
    answer = present(credential, holder, request, {"age_over_18": True})
    response = respond(client, request, {"national_id": [answer]})
    assert response.status_code == 200, response.text
    response_code = response.json()["redirect_uri"].partition("#response_code=")[2]
    release = f"/verifiers/bar-age-check/presentations/{created['transaction_id']}/release"
    body = {"response_code": response_code, "session_token": created["session_token"]}
    responses = _run(client, lambda http: http.post(release, json=body))
    assert sorted(r.status_code for r in responses) == [200] + [403] * (CONCURRENT - 1)
    released = next(r for r in responses if r.status_code == 200).json()
    assert released["result"]["credentials"]["national_id"][0]["claims"] == {"age_over_18": True}
