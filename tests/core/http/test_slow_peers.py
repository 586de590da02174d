"""A slow peer cannot hold an outbound call open: the whole exchange has a deadline and an
answer's body a minimum rate, checked against real peers on a loopback socket that trickle,
never finish their headers, or stall half way. A peer that thinks before it answers, and
one that answers at once, are still read in full."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from core.http.client import OutboundClient, OutboundFailed
from tests.support.slow_peers import (
    FAST_LENGTH,
    TRICKLE_INTERVAL,
    TRICKLE_LENGTH,
    SlowPeer,
    running_slow_peer,
)

TRICKLE_WOULD_TAKE = TRICKLE_LENGTH * TRICKLE_INTERVAL  # 200 s


@pytest.fixture
def peer() -> Iterator[SlowPeer]:
    with running_slow_peer() as running:
        yield running


async def _fails(client: OutboundClient, url: str, match: str) -> float:
    started = time.monotonic()
    with pytest.raises(OutboundFailed, match=match):
        await client.fetch(url, accept="application/json")
    return time.monotonic() - started


async def test_a_trickling_body_falls_below_the_minimum_rate(peer: SlowPeer) -> None:
    # a deadline far away: the rate alone ends it
    client = OutboundClient(exceptions=[peer.exception], deadline=120)
    took = await _fails(client, f"{peer.base}/trickle", "slower than 1024 bytes per second")
    assert took < 30 < TRICKLE_WOULD_TAKE
    await client.close()


async def test_without_a_rate_the_deadline_ends_a_trickle(peer: SlowPeer) -> None:
    client = OutboundClient(exceptions=[peer.exception], deadline=3, min_rate=0)
    took = await _fails(client, f"{peer.base}/trickle", "did not answer within 3 s")
    assert took < 3 + 10 < TRICKLE_WOULD_TAKE
    await client.close()


async def test_headers_that_never_end_meet_the_deadline(peer: SlowPeer) -> None:
    client = OutboundClient(exceptions=[peer.exception], deadline=3)
    took = await _fails(client, f"{peer.base}/endless-headers", "did not answer within 3 s")
    assert took < 3 + 10
    await client.close()


async def test_a_peer_that_stalls_half_way_meets_the_deadline(peer: SlowPeer) -> None:
    # each read may wait 30 s; the deadline of the whole exchange is what ends it
    client = OutboundClient(exceptions=[peer.exception], timeout=30, deadline=3)
    took = await _fails(client, f"{peer.base}/stall", "did not answer within 3 s")
    assert took < 3 + 10 < 30
    await client.close()


async def test_posts_and_redirects_share_the_bounds(peer: SlowPeer) -> None:
    client = OutboundClient(exceptions=[peer.exception], deadline=3)
    with pytest.raises(OutboundFailed, match="bytes per second"):
        await client.send("POST", f"{peer.base}/trickle", accept="*/*", form={"a": "b"})
    with pytest.raises(OutboundFailed, match="within 3 s"):
        await client.fetch(f"{peer.base}/endless-headers", accept="*/*", max_redirects=3)
    await client.close()


async def test_normal_peers_are_read_in_full(peer: SlowPeer) -> None:
    client = OutboundClient(exceptions=[peer.exception], deadline=10)
    fast = await client.fetch(f"{peer.base}/fast", accept="*/*")
    assert fast.body == b"x" * FAST_LENGTH
    # thinking longer than the rate's grace period before the headers is not slowness
    thought = await client.fetch(f"{peer.base}/think", accept="application/json")
    assert thought.body == b"{}"
    # and the client is whole after a peer it gave up on
    with pytest.raises(OutboundFailed):
        await client.fetch(f"{peer.base}/trickle", accept="*/*")
    again = await client.fetch(f"{peer.base}/fast", accept="*/*")
    assert len(again.body) == FAST_LENGTH
    await client.close()


def test_bounds_must_make_sense() -> None:
    for bad in ({"deadline": 0}, {"min_rate": -1}, {"rate_grace": -1}):
        with pytest.raises(ValueError):
            OutboundClient(**bad)  # type: ignore[arg-type]
