"""The agencies' counter requests (``app.counter_api``) ask for an encrypted answer, response
mode ``direct_post.jwt`` (HAIP 1.0 §5.1), cross-device and same-device; a counter that
answers with a request of another mode is not used. The counter API is a stand-in here
(``httpx.MockTransport``); the whole way, with our wallet and with an independent one, is
in ``tests/issuers/test_presentation_login.py`` and ``tests/interop``."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.counter_api import CounterApi
from core.http.client import OutboundClient
from issuers.domain import CounterUnavailable

BASE = "https://id.example.test"
COUNTER = "transport-agency-id-check"


def _counter(answered_mode: str | None, asked: list[dict[str, Any]]) -> CounterApi:
    def counter_api(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer counter-key"
        body = json.loads(request.content)
        asked.append(body)
        created = {"transaction_id": "t-1", "uri": "openid4vp://?request_uri=x"}
        if answered_mode is not None:
            created["response_mode"] = answered_mode
        return httpx.Response(201, json=created)

    outbound = OutboundClient(local={BASE: httpx.MockTransport(counter_api)})
    return CounterApi(outbound, BASE, {COUNTER: "counter-key"})


@pytest.mark.parametrize("same_device", [False, True])
async def test_every_request_asks_for_direct_post_jwt(same_device: bool) -> None:
    asked: list[dict[str, Any]] = []
    counter = _counter("direct_post.jwt", asked)
    back = f"{BASE}/issuers/transport-agency/presentation-login/s" if same_device else None
    made = await counter.ask(COUNTER, "identification", same_device_return=back)
    assert made.transaction_id == "t-1"
    [body] = asked
    assert body["response_mode"] == "direct_post.jwt" and body["template"] == "identification"
    assert body.get("same_device", False) is same_device


@pytest.mark.parametrize("answered_mode", ["direct_post", None])
async def test_a_request_made_without_encryption_is_not_used(answered_mode: str | None) -> None:
    """A counter API that ignored ``response_mode`` (or does not say) made a request whose
    answer would cross unencrypted: the agency does not show it to the citizen."""
    counter = _counter(answered_mode, [])
    with pytest.raises(CounterUnavailable, match="without response encryption"):
        await counter.ask(COUNTER, "identification")
