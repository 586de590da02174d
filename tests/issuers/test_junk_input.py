"""Junk at every issuer endpoint gets a clear 4xx with an error code, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

JUNK_BODIES: list[tuple[str, bytes]] = [
    ("application/json", b""),
    ("application/json", b"\xff\xfe\x00"),
    ("application/json", b"[" * 5000),
    ("application/json", b'{"a": NaN}'),
    (
        "application/json",
        b'{"credential_configuration_id": {"x": 1}, "proofs": {"jwt": [1, null, {}]}}',
    ),
    ("application/json", b'{"proofs": "jwt"}'),
    ("application/x-www-form-urlencoded", b"grant_type=%ff%fe&&&=="),
    ("application/x-www-form-urlencoded", b"a=1&" * 100),
    ("text/plain", b"hello"),
    ("application/json", b'{"subject_id": 5, "claims": [], "tx_code": "yes"}'),
    ("application/json", b'{"notification_id": ["x"], "event": 1}'),
]
ENDPOINTS = [
    "/issuers/civil-registry/token",
    "/issuers/civil-registry/credential",
    "/issuers/civil-registry/notification",
    "/issuers/civil-registry/offers",
    "/issuers/civil-registry/credentials/revoke",
    "/issuers/nope/token",
]
HEADERS = [
    {},
    {"Authorization": "Bearer " + "x" * 600},
    {"Authorization": "DPoP abc"},
    {"Authorization": "Bearer"},
]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_no_junk_reaches_a_500(client: TestClient[Any], endpoint: str, database_url: str) -> None:
    if "postgresql" in database_url:
        pytest.skip("the parsing under test does not depend on the database")
    for content_type, body in JUNK_BODIES:
        for headers in HEADERS:
            response = client.post(
                endpoint, content=body, headers={"Content-Type": content_type, **headers}
            )
            assert 400 <= response.status_code < 500, (endpoint, body[:40], headers, response.text)
            document = response.json()
            assert "error" in document or "title" in document
            assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/issuers/civil-registry/credential-offers/" + "x" * 300,
        "/issuers/civil-registry/credential-offers/%00%ff",
        "/issuers/civil-registry/status-lists/" + "y" * 300,
        "/issuers/civil-registry/types/%2e%2e",
        "/.well-known/openid-credential-issuer/issuers/%00",
        "/issuers/civil-registry/offers/abc/qr.png",
        "/issuers/civil-registry/subjects/someone",
        "/issuers/civil-registry/audit?limit=-5",
        "/issuers/civil-registry/audit?limit=abc",
    ],
)
def test_odd_reads_are_4xx(client: TestClient[Any], path: str, database_url: str) -> None:
    if "postgresql" in database_url:
        pytest.skip("the parsing under test does not depend on the database")
    response = client.get(path, headers={"Accept-Language": "x" * 5000})
    assert 400 <= response.status_code < 500, (path, response.text)
