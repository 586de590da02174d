"""Pending state that callers create is bounded and forgotten, on SQLite and PostgreSQL:

- a burst of 10,000 sign-in challenges, then one housekeeping pass after they expired,
  leaves no expired challenge; live challenges are capped (503 with Retry-After above it);
- a citizen's unfinished offers and presentations are capped; a counter's open requests
  and an agency's pending offers too;
- an offer's claims are sealed at rest, and once the offer ended they are gone: expired
  unredeemed offers are deleted, redeemed ones redacted once no access token can use them;
  expired access tokens, used nonces and kept credential responses are deleted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from app.settings import Settings
from app.wallet_wiring import forget_expired
from core.pending_cap import PendingCap
from issuers.storage.housekeeping import SqlIssuerHousekeeping
from tests.conftest import migrated_database
from tests.issuers.conftest import PUBLIC_BASE_URL, client, without_rate_limits
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer, operator_key
from tests.issuers.wallet import Wallet
from tests.support.invariants import assert_invariants, count_rows
from tests.verifiers.presenter import counter_key
from tests.wallet.phone import Phone

__all__ = ["client"]  # the app of the issuer tests: every role, both databases


@pytest.fixture
def settings(var_dir: Path, database_url: str) -> Settings:
    """What is bounded here is state, whatever the rate limits in front of it allow."""
    return without_rate_limits(
        Settings(
            var_dir=var_dir,
            database_url=migrated_database(database_url),
            public_base_url=PUBLIC_BASE_URL,
        )
    )


BURST = 10_000
CONCURRENT = 50


class _Later:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def now(self) -> float:
        return time.time() + self.seconds


def _url(client: TestClient[Any]) -> str:
    url: str = client.app.state.deployment.settings.database_url
    return url


async def _burst(app: Any, count: int, path: str) -> list[int]:
    transport = httpx.ASGITransport(app=app)
    statuses: list[int] = []
    async with httpx.AsyncClient(transport=transport, base_url="https://id.example.gov") as http:

        async def one_by_one(share: int) -> None:
            for _ in range(share):
                statuses.append((await http.post(path)).status_code)

        await asyncio.gather(*(one_by_one(count // CONCURRENT) for _ in range(CONCURRENT)))
    return statuses


def test_a_burst_of_challenges_stores_nothing(client: TestClient[Any]) -> None:
    """Challenges are handed out without a write (a crowd asking for them fills no
    table); only those spent by a sign-in are kept, until housekeeping after they expire."""
    statuses = client.blocking_portal.call(_burst, client.app, BURST, "/wallet/challenges")
    assert statuses == [201] * BURST, set(statuses)
    url = _url(client)
    assert count_rows(url, "SELECT count(*) FROM wallet_challenges") == 0
    phones = [Phone(client) for _ in range(3)]
    for phone in phones:
        phone.register()
    phones[0].login()
    assert count_rows(url, "SELECT count(*) FROM wallet_challenges") == 4
    context = client.app.state.wallet
    lifetime = context.policy.challenge_lifetime
    later = dataclasses.replace(context, clock=_Later(lifetime + 1))
    purged = client.blocking_portal.call(forget_expired, later)
    assert purged == 4
    assert count_rows(url, "SELECT count(*) FROM wallet_challenges") == 0
    # and a sign-in works as before
    Phone(client).register()


def test_a_citizen_s_unfinished_flows_are_capped(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    context = client.app.state.wallet
    context.policy = dataclasses.replace(context.policy, max_unfinished_flows=3)
    received = create_offer(client, "civil-registry", "national_id", CITIZEN)
    phone.receive(received["offer_uri"])  # finished flows do not count
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN)
    scans = [phone.scan(offer["offer_uri"]) for _ in range(4)]
    assert [s.status_code for s in scans] == [201, 201, 201, 409]
    assert "unfinished offers and presentations" in scans[-1].json()["error_description"]
    other = Phone(client)  # another citizen is not affected
    other.register()
    assert other.scan(offer["offer_uri"]).status_code == 201
    # the next step of a flow already kept is always taken
    offer_id = scans[0].json()["offer"]["offer_id"]
    assert phone.post(f"/wallet/offers/{offer_id}/accept", {}).status_code == 200


def test_a_counter_s_open_requests_are_capped(client: TestClient[Any]) -> None:
    client.app.state.verifiers = dataclasses.replace(
        client.app.state.verifiers, open_requests=PendingCap(2)
    )
    headers = {"Authorization": f"Bearer {counter_key(client, 'bar-age-check')}"}
    made = [
        client.post(
            "/verifiers/bar-age-check/presentations",
            json={"template": "age_over_18"},
            headers=headers,
        )
        for _ in range(3)
    ]
    assert [m.status_code for m in made] == [201, 201, 429]
    assert made[-1].headers["content-type"].startswith("application/problem+json")
    other = client.post(
        "/verifiers/city-hall-counter/presentations",
        json={"template": "identity"},
        headers={"Authorization": f"Bearer {counter_key(client, 'city-hall-counter')}"},
    )
    assert other.status_code == 201


def test_an_agency_s_pending_offers_are_capped(client: TestClient[Any]) -> None:
    client.app.state.issuers = dataclasses.replace(
        client.app.state.issuers, pending_offers=PendingCap(2)
    )
    headers = {"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"}
    body = {"subject_id": "s", "credential_configuration_id": "national_id", "claims": CITIZEN}
    made = [
        client.post("/issuers/civil-registry/offers", json=body, headers=headers) for _ in "abc"
    ]
    assert [m.status_code for m in made] == [201, 201, 429]


def test_offer_claims_are_sealed_and_forgotten_when_the_offer_ends(
    client: TestClient[Any],
) -> None:
    url = _url(client)
    marker = {**CITIZEN, "given_name": "Zzcanaryoffer"}
    received = create_offer(client, "civil-registry", "national_id", marker, subject="received")
    Wallet(client).receive(received["offer_uri"])
    for subject in ("waiting-1", "waiting-2"):
        create_offer(client, "civil-registry", "national_id", marker, subject=subject)

    async def stored_claims() -> dict[str, str]:
        async with client.app.state.deployment.engine.connect() as connection:
            rows = await connection.execute(text("SELECT subject_id, claims FROM issuer_offers"))
            return {row.subject_id: row.claims for row in rows}

    claims = client.blocking_portal.call(stored_claims)
    assert set(claims) == {"received", "waiting-1", "waiting-2"}
    assert all("Zzcanary" not in value and value.startswith("sealed:") for value in claims.values())

    # A pass now: the received offer's token is used, so its claims go; the others wait.
    housekeeping = SqlIssuerHousekeeping(client.app.state.deployment.engine)
    client.blocking_portal.call(housekeeping.forget_ended, time.time())
    claims = client.blocking_portal.call(stored_claims)
    assert claims["received"] == "" and claims["waiting-1"] and claims["waiting-2"]

    # A pass after the offers' lifetime: the unredeemed one is deleted, tokens, nonces and
    # kept responses past their expiry too.
    policy = client.app.state.issuers.policy
    later = time.time() + policy.offer_lifetime + policy.access_token_lifetime + 1
    client.blocking_portal.call(housekeeping.forget_ended, later)
    assert set(client.blocking_portal.call(stored_claims)) == {"received"}
    for table in ("issuer_access_grants", "issuer_nonces", "issuer_credential_responses"):
        assert count_rows(url, f"SELECT count(*) FROM {table}") == 0, table
    assert count_rows(url, "SELECT count(*) FROM issuer_credentials") == 1
    assert_invariants(url)
    # The desk still sees the citizen's credential and the redeemed offer, without claims.
    subject = client.get(
        "/issuers/civil-registry/subjects/received",
        headers={"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"},
    ).json()
    assert len(subject["credentials"]) == 1
    assert [o["state"] for o in subject["offers"]] == ["redeemed"]
    assert "Zzcanary" not in json.dumps(subject)
