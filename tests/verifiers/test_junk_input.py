"""Junk at every verifier endpoint gets a clear 4xx with an error code, never a 500; junk
answers to a live request leave it waiting for the real one."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from tests.verifiers.presenter import counter_key, create_request, fetch_request, transaction_status

JUNK_BODIES: list[tuple[str, bytes]] = [
    ("application/json", b""),
    ("application/json", b"\xff\xfe\x00"),
    ("application/json", b"[" * 5000),
    ("application/json", b'{"template": NaN}'),
    ("application/json", b'{"template": ["identity"], "same_device": "yes"}'),
    ("application/json", b'{"dcql_query": {"credentials": [{"id": "a b"}]}}'),
    ("application/json", b'{"dcql_query": {"credentials": []}, "template": "identity"}'),
    ("application/json", b'{"template": "identity", "response_mode": "fragment"}'),
    ("application/json", b'{"template": "nope"}'),
    ("application/json", b'{"response_code": 1, "session_token": null}'),
    ("application/x-www-form-urlencoded", b"vp_token=%ff%fe&&&=="),
    ("application/x-www-form-urlencoded", b"vp_token=1&vp_token=2&state=x"),
    ("application/x-www-form-urlencoded", b"a=1&" * 100),
    ("application/x-www-form-urlencoded", b"wallet_metadata=%7B%7D%7D&wallet_nonce="),
    ("application/x-www-form-urlencoded", b"response=a.b.c.d.e&state=x"),
    ("text/plain", b"hello"),
]
ENDPOINTS = [
    "/verifiers/city-hall-counter/presentations",
    "/verifiers/city-hall-counter/presentations/abc/release",
    "/verifiers/city-hall-counter/requests/abc",
    "/verifiers/city-hall-counter/responses/abc",
    "/verifiers/nope/presentations",
    "/verifiers/nope/responses/abc",
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_no_junk_reaches_a_500(client: TestClient[Any], endpoint: str, database_url: str) -> None:
    if "postgresql" in database_url:
        pytest.skip("the parsing under test does not depend on the database")
    key = counter_key(client, "city-hall-counter")
    for content_type, body in JUNK_BODIES:
        for headers in ({}, {"Authorization": f"Bearer {key}"}, {"Authorization": "Bearer"}):
            response = client.post(
                endpoint, content=body, headers={"Content-Type": content_type, **headers}
            )
            assert 400 <= response.status_code < 500, (endpoint, body[:40], response.text)
            document = response.json()
            assert "error" in document or "title" in document
            assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/verifiers/city-hall-counter/presentations/" + "x" * 300,
        "/verifiers/city-hall-counter/presentations/%00%ff",
        "/verifiers/city-hall-counter/presentations/abc/events",
        "/verifiers/city-hall-counter/presentations/abc/qr.svg",
        "/verifiers/city-hall-counter/requests/" + "y" * 300,
        "/verifiers/nope/requests/abc",
    ],
)
def test_odd_reads_are_4xx(client: TestClient[Any], path: str, database_url: str) -> None:
    if "postgresql" in database_url:
        pytest.skip("the parsing under test does not depend on the database")
    response = client.get(path, headers={"Authorization": "Bearer " + "k" * 40})
    assert 400 <= response.status_code < 500, (path, response.text)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    vp_token=st.one_of(
        st.text(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=12), inner, max_size=4)
            ),
            max_leaves=12,
        ).map(json.dumps),
    )
)
def test_arbitrary_vp_tokens_with_the_right_state_fail_cleanly(
    client: TestClient[Any], database_url: str, vp_token: str
) -> None:
    if "postgresql" in database_url:
        pytest.skip("the parsing under test does not depend on the database")
    created = create_request(client, "bar-age-check", template="age_over_18")
    request = fetch_request(client, created["uri"])
    path = urlsplit(request.payload["response_uri"]).path
    response = client.post(path, data={"vp_token": vp_token, "state": request.payload["state"]})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    status = transaction_status(client, "bar-age-check", created["transaction_id"]).json()
    assert status["status"] in ("failed", "request_fetched")
