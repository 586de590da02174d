"""When PostgreSQL drops the connections (a restart, a failover), requests get 503 with
Retry-After, never a 500, and the pool recovers by itself."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy.engine import make_url

from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.issuers.wallet import Wallet, proof, read_offer
from tests.support.postgres import run_in_thread


async def _terminate_backends(url: str) -> int:
    import asyncpg

    parsed = make_url(url)
    connection = await asyncpg.connect(
        parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        return int(
            await connection.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                parsed.database,
            )
        )
    finally:
        await connection.close()


def test_dropped_connections_give_503_then_recover(
    client: TestClient[Any], database_url: str
) -> None:
    if "postgresql" not in database_url:
        pytest.skip("connections are dropped by the PostgreSQL server")
    jwks = "/.well-known/jwt-vc-issuer/issuers/civil-registry"
    assert client.get(jwks).status_code == 200
    assert run_in_thread(_terminate_backends(database_url)) >= 1
    statuses = [client.get(jwks).status_code for _ in range(12)]
    assert 500 not in statuses, statuses
    assert set(statuses) <= {200, 503}
    assert statuses[-1] == 200
    for response in (client.get(jwks) for _ in range(2)):
        if response.status_code == 503:
            assert (
                response.headers["retry-after"]
                and response.json()["error"] == "temporarily_unavailable"
            )
    created = create_offer(
        client, "civil-registry", "national_id", CITIZEN
    )  # and issuance works again
    _, credentials, _ = Wallet(client).receive(created["offer_uri"])
    assert len(credentials) == 1


def _after_503(send: Any) -> Any:
    """The first answer on a dropped connection is 503 with Retry-After; the retry is the
    answer that counts."""
    response = send()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert response.json()["error"] == "temporarily_unavailable"
    return send()


def test_issuance_across_dropped_connections(client: TestClient[Any], database_url: str) -> None:
    """The issuance hot path (PostgreSQL's own driver) answers a dropped connection with 503,
    keeps the code and the grant unspent, and works on the retry."""
    if "postgresql" not in database_url:
        pytest.skip("connections are dropped by the PostgreSQL server")
    wallet = Wallet(client)
    offers = [
        read_offer(
            client, create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"]
        )
        for _ in range(2)
    ]
    metadata = wallet.metadata(offers[0]["credential_issuer"])
    first = wallet.token(offers[0])
    assert first.status_code == 200
    holder = wallet.new_holder()

    assert run_in_thread(_terminate_backends(database_url)) >= 1
    second = _after_503(lambda: wallet.token(offers[1]))
    assert second.status_code == 200, second.text

    assert run_in_thread(_terminate_backends(database_url)) >= 1
    nonce = wallet.nonce(metadata)
    body = {
        "credential_configuration_id": "national_id",
        "proofs": {"jwt": [proof(holder, offers[0]["credential_issuer"], nonce)]},
    }
    issued = _after_503(lambda: wallet.credential(metadata, first.json()["access_token"], body))
    assert issued.status_code == 200, issued.text
    assert len(issued.json()["credentials"]) == 1
