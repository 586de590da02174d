"""Quota leases on a real Redis: however the requests of a busy budget fall on the workers,
no window admits more than its quota, and few are refused before it is spent; quiet
budgets are counted one by one, exactly."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.rate_limit_leases import MIN_QUOTA_FOR_LEASES, QuotaLeases
from tests.support.redis import redis_url, unique_key_prefix


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url())
    try:
        yield client
    finally:
        await client.aclose()


def _workers(redis: Redis, count: int, calls: list[int]) -> list[QuotaLeases]:
    async def increment(key: str, expiry: int, amount: int) -> int:
        calls.append(amount)
        value = int(await redis.incrby(key, amount))
        if value == amount:
            await redis.expire(key, expiry)
        return value

    return [QuotaLeases(increment) for _ in range(count)]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_busy_budget_never_admits_more_than_its_quota(redis: Redis, seed: int) -> None:
    calls: list[int] = []
    workers = _workers(redis, 3, calls)
    key, quota, sent = unique_key_prefix() + "busy", 1000, 1500
    rng = random.Random(seed)
    in_flight = asyncio.Semaphore(16)  # as many as a worker's event loop has at once

    async def request() -> int:
        async with in_flight:
            return await rng.choice(workers).number(key, 60, quota)

    numbers = await asyncio.gather(*(request() for _ in range(sent)))
    admitted = sum(1 for n in numbers if n <= quota)
    assert admitted <= quota
    assert admitted >= quota * 0.9, admitted  # leased numbers lost: a few, never many
    assert len(calls) < sent / 4  # most requests did not ask Redis


async def test_a_quiet_budget_is_counted_one_by_one(redis: Redis) -> None:
    calls: list[int] = []
    [worker, other] = _workers(redis, 2, calls)
    key, quota = unique_key_prefix() + "quiet", MIN_QUOTA_FOR_LEASES - 1
    numbers = [await (worker if n % 2 else other).number(key, 60, quota) for n in range(80)]
    assert numbers[:quota] == list(range(1, quota + 1))
    assert all(n > quota for n in numbers[quota:])
    assert set(calls) == {1}


async def test_a_spent_budget_is_refused_without_asking_redis_again(redis: Redis) -> None:
    calls: list[int] = []
    [worker] = _workers(redis, 1, calls)
    key = unique_key_prefix() + "spent"
    for _ in range(5):
        await worker.number(key, 60, 3)
    asked = len(calls)
    assert await worker.number(key, 60, 3) > 3
    assert len(calls) == asked
