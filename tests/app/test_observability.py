"""Operations: Prometheus metrics (latency per endpoint template, issuances,
verifications, protocol failures by code), correlation ids on every response and log
line, JSON logs, and an access log that names endpoint templates, never the offer or
request ids inside concrete paths."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from litestar.testing import TestClient

from app.observability import JsonFormatter, RequestIdFilter
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.verifiers.conftest import client, settings
from tests.verifiers.presenter import create_request
from tests.wallet.phone import Phone

__all__ = ["client", "settings"]


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            head, _, value = line.rpartition(" ")
            if head.split("{")[0] == name:
                total += float(value)
    return total


def test_metrics_count_issuances_verifications_and_failures(
    client: TestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="idwallet.access")
    before = client.get("/metrics").text
    phone = Phone(client)
    phone.register()
    created = create_offer(client, "civil-registry", "national_id", CITIZEN)
    phone.receive(created["offer_uri"])
    asked = create_request(client, "bar-age-check", template="age_over_18")
    consent = phone.scan(asked["uri"]).json()["presentation"]
    phone.approve(consent["presentation_id"])
    assert (
        client.post("/issuers/civil-registry/token", data={"grant_type": "nope"}).status_code == 400
    )
    after = client.get("/metrics").text
    assert "# TYPE idwallet_requests_total counter" in after
    assert (
        _metric(after, "idwallet_issuances_total") - _metric(before, "idwallet_issuances_total")
        == 1
    )
    verified = _metric(after, "idwallet_verifications_total", outcome="verified")
    assert verified - _metric(before, "idwallet_verifications_total", outcome="verified") == 1
    failures = _metric(after, "idwallet_protocol_failures_total", error="unsupported_grant_type")
    assert (
        failures
        - _metric(before, "idwallet_protocol_failures_total", error="unsupported_grant_type")
        == 1
    )
    assert 'path="/issuers/{issuer_id}/credential"' in after
    offer_id = created["offer_id"]
    assert offer_id not in after
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "idwallet.access")
    assert "POST /issuers/{issuer_id}/token 400" in logged
    assert offer_id not in logged and created["offer_uri"] not in logged


def test_every_response_carries_a_correlation_id(client: TestClient[Any]) -> None:
    given = client.get("/health", headers={"X-Request-ID": "counter-7-abcdef"})
    assert given.headers["x-request-id"] == "counter-7-abcdef"
    for bad in ("short", "has spaces in it", "x" * 100, "semi;colon;value;123"):
        made = client.get("/health", headers={"X-Request-ID": bad})
        assert made.headers["x-request-id"] != bad and len(made.headers["x-request-id"]) == 16
    assert client.get("/health").headers["x-request-id"]


def test_json_log_lines_carry_the_request_id() -> None:
    record = logging.LogRecord(
        "idwallet.test", logging.WARNING, __file__, 1, "hello %s", ("you",), None
    )
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello you" and line["level"] == "WARNING"
    assert line["request_id"] == "-" and line["logger"] == "idwallet.test"
