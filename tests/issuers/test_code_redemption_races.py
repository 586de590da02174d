"""SECURITY-CASES F03 in full: fifty simultaneous token requests for one pre-authorized code,
200 rounds on SQLite and on PostgreSQL, every other round an offer with a transaction code,
and the same again with a delay injected between the token endpoint's reads and writes.

Redemption is one conditional ``UPDATE … RETURNING`` in the store, so the windows a race
could use lie between the service's calls to its offer store: counting a transaction-code
attempt, then redeeming; failing to redeem, then reading the offer to explain why. The
delayed runs stretch every one of those windows so that all fifty requests sit inside
them at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import httpx
import pytest

from app import create_app
from app.settings import Settings
from issuers.domain import AccessGrant, AuditEvent, Offer
from issuers.ports import OfferStore
from issuers.services.context import IssuancePolicy, IssuerContext
from tests.issuers.concurrent_client import concurrent_client, national_id_offer
from tests.issuers.conftest import without_rate_limits
from tests.issuers.wallet import PRE_AUTHORIZED_GRANT
from tests.support.invariants import assert_invariants, count_rows

ROUNDS = 200
RACERS = 50
TOKEN = "/issuers/civil-registry/token"
MAX_DELAY = 0.004  # seconds, drawn afresh before and after every offer-store call
T = TypeVar("T")


class DelayedOfferStore:
    """The real offer store with a random pause before and after each of its calls."""

    def __init__(self, store: OfferStore, rng: random.Random) -> None:
        self._store = store
        self._rng = rng

    async def _delayed(self, call: Awaitable[T]) -> T:
        await asyncio.sleep(self._rng.uniform(0, MAX_DELAY))
        result = await call
        await asyncio.sleep(self._rng.uniform(0, MAX_DELAY))
        return result

    async def add(self, offer: Offer, *, audit: AuditEvent | None = None) -> None:
        await self._store.add(offer, audit=audit)

    async def count_pending(self, issuer_id: str, now: float, limit: int) -> int:
        return await self._store.count_pending(issuer_id, now, limit)

    async def get(self, issuer_id: str, offer_id: str) -> Offer | None:
        return await self._store.get(issuer_id, offer_id)

    async def for_subject(self, issuer_id: str, subject_id: str) -> list[Offer]:
        return await self._store.for_subject(issuer_id, subject_id)

    async def get_by_code(self, code_hash: str) -> Offer | None:
        return await self._delayed(self._store.get_by_code(code_hash))

    async def reserve_tx_code_attempt(
        self, code_hash: str, issuer_id: str, now: float
    ) -> Offer | None:
        return await self._delayed(self._store.reserve_tx_code_attempt(code_hash, issuer_id, now))

    async def redeem(self, code_hash: str, now: float, grant: AccessGrant) -> Offer | None:
        return await self._delayed(self._store.redeem(code_hash, now, grant))

    async def redeem_without_tx_code(
        self, code_hash: str, now: float, grant: AccessGrant
    ) -> Offer | None:
        return await self._delayed(self._store.redeem_without_tx_code(code_hash, now, grant))


@pytest.fixture(params=["direct", "delayed"])
async def racing_client(
    request: pytest.FixtureRequest, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(without_rate_limits(settings))
    async with concurrent_client(app) as client:
        if request.param == "delayed":
            context: IssuerContext = app.state.issuers
            store = DelayedOfferStore(context.offers, random.Random(3))
            app.state.issuers = dataclasses.replace(context, offers=store)
        yield client


async def _race(client: httpx.AsyncClient, code: str, tx_code: str | None) -> list[int]:
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": code}
    if tx_code is not None:
        form["tx_code"] = tx_code
    start = asyncio.Event()

    async def one() -> httpx.Response:
        await start.wait()  # the barrier: every request is ready before any is sent
        return await client.post(TOKEN, data=form)

    racers = [asyncio.create_task(one()) for _ in range(RACERS)]
    await asyncio.sleep(0)
    start.set()
    responses = await asyncio.gather(*racers)
    for response in responses:
        if response.status_code != 200:
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "invalid_grant", response.text
    return [r.status_code for r in responses]


async def test_F03_one_token_per_code_in_every_round(
    racing_client: httpx.AsyncClient, settings: Settings
) -> None:
    for round_number in range(ROUNDS):
        code, tx_code = await national_id_offer(
            racing_client, settings, subject_id="racer", tx_code=round_number % 2 == 1
        )
        statuses = await _race(racing_client, code, tx_code)
        assert statuses.count(200) == 1, (round_number, sorted(statuses))

    tokens = count_rows(settings.database_url, "SELECT count(*) FROM issuer_access_grants")
    assert tokens == ROUNDS
    attempts = count_rows(settings.database_url, "SELECT max(tx_code_attempts) FROM issuer_offers")
    # never past the limit, however many raced with the right code
    assert attempts <= IssuancePolicy().tx_code_max_attempts
    assert_invariants(settings.database_url)
