"""A citizen's wallet meeting a slow issuer or verifier through the mobile API: an offer
whose ``credential_offer_uri`` (or a request whose ``request_uri``) points at a peer that
trickles its answer, or never finishes its headers, is refused promptly with the wallet's
error for a counterparty that gave no usable answer (502 ``temporarily_unavailable``),
instead of holding the citizen's scan open for minutes. The peers are real sockets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from litestar.testing import TestClient

from app.settings import Settings
from tests.conftest import backend_url, migrated_database
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.support.slow_peers import TRICKLE_INTERVAL, TRICKLE_LENGTH, SlowPeer, running_slow_peer
from tests.wallet.phone import Phone

DEADLINE = 3


@pytest.fixture
def peer() -> Iterator[SlowPeer]:
    with running_slow_peer() as running:
        yield running


@pytest.fixture
def settings(var_dir: Path, tmp_path: Path, peer: SlowPeer) -> Settings:
    # the outbound bounds do not depend on the database: SQLite alone
    return Settings(
        var_dir=var_dir,
        database_url=migrated_database(backend_url("sqlite", tmp_path)),
        public_base_url=PUBLIC_BASE_URL,
        outbound_allow=(peer.exception,),
        outbound_deadline=DEADLINE,
    )


@pytest.mark.parametrize("kind", ["trickle", "endless-headers"])
@pytest.mark.parametrize("scanned", ["offer", "request"])
def test_a_scan_of_a_slow_peer_is_refused_promptly(
    client: TestClient[Any], peer: SlowPeer, kind: str, scanned: str
) -> None:
    phone = Phone(client)
    phone.register()
    target = f"{peer.base}/{kind}"
    if scanned == "offer":
        uri = "openid-credential-offer://?" + urlencode({"credential_offer_uri": target})
    else:
        uri = "openid4vp://?" + urlencode({"client_id": "x509_hash:abc", "request_uri": target})
    started = time.monotonic()
    response = phone.scan(uri)
    took = time.monotonic() - started
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["error"] == "temporarily_unavailable"
    assert "could not be fetched" in body["error_description"]
    assert peer.requests == [f"/{kind}"]
    # well within the deadline and its margin; the trickle alone would take 200 s
    assert took < DEADLINE + 10 < TRICKLE_LENGTH * TRICKLE_INTERVAL
