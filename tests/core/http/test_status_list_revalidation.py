"""How often a cached status list token is asked for again (Token Status List §13.7), against
a real HTTP peer on a loopback socket that counts what it is asked and answers ``304`` to a
matching ``If-None-Match``: the deployment's own lists every ``revalidate`` seconds, other
issuers' lists after their ``ttl``, never a token past its ``exp``. Time is a fixed clock
moved by the test, so the intervals are exact and nothing sleeps."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from core.clock import FixedClock
from core.encoding import b64url_decode, b64url_encode
from core.http.client import OutboundClient, OutboundFailed
from core.http.published_documents import PublishedDocuments

NOW = 1_800_000_000.0
PATH = "/issuers/civil-registry/status-lists/1"


@dataclass
class StatusProvider:
    """The list as its issuer publishes it; ``asked`` holds each request's ``If-None-Match``
    (None when unconditional) and the status answered."""

    version: int = 1
    ttl: int = 300
    exp: float = NOW + 600
    signed: int = 0  # bumped when the same version is signed again
    etags: bool = True
    failing: bool = False
    delay: float = 0.0
    asked: list[tuple[str | None, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def etag(self) -> str:
        return f'"1.{self.version}"'

    @property
    def token(self) -> str:
        header = b64url_encode(json.dumps({"typ": "statuslist+jwt", "alg": "ES256"}).encode())
        claims = {"ttl": self.ttl, "exp": self.exp, "v": self.version, "s": self.signed}
        return f"{header}.{b64url_encode(json.dumps(claims).encode())}.c2ln"

    def answer(self, if_none_match: str | None) -> tuple[int, dict[str, str], bytes]:
        time.sleep(self.delay)
        with self.lock:
            if self.failing:
                status, headers, body = 500, {}, b""
            elif self.etags and if_none_match == self.etag:
                status, headers, body = 304, {"ETag": self.etag}, b""
            else:
                headers = {"Content-Type": "application/statuslist+jwt"}
                if self.etags:
                    headers["ETag"] = self.etag
                status, body = 200, self.token.encode()
            self.asked.append((if_none_match, status))
            return status, headers, body


@dataclass
class Peer:
    base: str
    provider: StatusProvider

    @property
    def exception(self) -> str:
        return self.base.removeprefix("http://")


@pytest.fixture
def peer() -> Iterator[Peer]:
    provider = StatusProvider()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = provider.answer(self.headers.get("If-None-Match"))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Peer(f"http://127.0.0.1:{server.server_address[1]}", provider)
    server.shutdown()


def _claims(token: str) -> bytes:
    return b64url_decode(token.split(".")[1])


def _own(peer: Peer) -> OutboundClient:
    """The peer as the deployment's own origin (in production the application itself, in
    process; here the same kind of local transport, over a real loopback socket)."""
    return OutboundClient(local={peer.base: httpx.AsyncHTTPTransport()})


def _foreign(peer: Peer) -> OutboundClient:
    return OutboundClient(exceptions=[peer.exception])


async def test_own_list_is_revalidated_after_the_interval_and_kept_on_304(peer: Peer) -> None:
    clock = FixedClock(NOW)
    client = _own(peer)
    documents = PublishedDocuments(client, revalidate=10, clock=clock)
    url, asked = peer.base + PATH, peer.provider.asked
    first = await documents.fetch(url)
    assert asked == [(None, 200)]

    clock.advance(9.9)  # within the interval: not a single request
    assert await documents.fetch(url) == first
    assert asked == [(None, 200)]

    clock.advance(0.2)  # past it: one conditional request, answered 304, token kept
    assert await documents.fetch(url) == first
    assert asked == [(None, 200), ('"1.1"', 304)]
    clock.advance(9.9)  # and its age starts again
    assert await documents.fetch(url) == first
    assert len(asked) == 2

    peer.provider.version = 2  # a clerk revokes: the version and its ETag change
    clock.advance(0.2)
    revoked = await documents.fetch(url)
    assert revoked != first and json.loads(_claims(revoked))["v"] == 2
    assert asked[2:] == [('"1.1"', 200)]
    await client.close()


async def test_revalidate_zero_asks_on_every_use(peer: Peer) -> None:
    client = _own(peer)
    documents = PublishedDocuments(client, revalidate=0, clock=FixedClock(NOW))
    for _ in range(3):
        await documents.fetch(peer.base + PATH)
    assert peer.provider.asked == [(None, 200), ('"1.1"', 304), ('"1.1"', 304)]
    await client.close()


async def test_concurrent_uses_share_one_revalidation(peer: Peer) -> None:
    clock = FixedClock(NOW)
    client = _own(peer)
    documents = PublishedDocuments(client, revalidate=10, clock=clock)
    first = await documents.fetch(peer.base + PATH)
    clock.advance(11)
    peer.provider.delay = 0.3  # every use arrives while the one question is out
    tokens = await asyncio.gather(*(documents.fetch(peer.base + PATH) for _ in range(20)))
    assert set(tokens) == {first}
    assert peer.provider.asked == [(None, 200), ('"1.1"', 304)]
    await client.close()


async def test_foreign_lists_keep_their_ttl(peer: Peer) -> None:
    clock = FixedClock(NOW)
    client = _foreign(peer)
    documents = PublishedDocuments(client, revalidate=0, clock=clock)  # own lists only
    url, asked = peer.base + PATH, peer.provider.asked
    first = await documents.fetch(url)
    clock.advance(299)
    assert await documents.fetch(url) == first
    assert asked == [(None, 200)]
    clock.advance(2)  # its ttl is over: asked again, conditionally
    assert await documents.fetch(url) == first
    assert asked == [(None, 200), ('"1.1"', 304)]
    await client.close()


async def test_a_token_about_to_expire_is_fetched_afresh(peer: Peer) -> None:
    clock = FixedClock(NOW)
    client = _own(peer)
    documents = PublishedDocuments(client, revalidate=10, clock=clock)
    peer.provider.exp = NOW + 12  # used for 7 s: never within 5 s of its exp
    first = await documents.fetch(peer.base + PATH)
    clock.advance(7.5)
    peer.provider.exp, peer.provider.signed = NOW + 600, 1  # the same version signed again
    again = await documents.fetch(peer.base + PATH)
    assert again != first and json.loads(_claims(again))["exp"] == NOW + 600
    # no If-None-Match: a 304 would have kept the expiring token
    assert peer.provider.asked == [(None, 200), (None, 200)]
    await client.close()


async def test_a_list_without_etag_is_fetched_again(peer: Peer) -> None:
    clock = FixedClock(NOW)
    client = _own(peer)
    documents = PublishedDocuments(client, revalidate=10, clock=clock)
    peer.provider.etags = False
    await documents.fetch(peer.base + PATH)
    clock.advance(11)
    await documents.fetch(peer.base + PATH)
    assert peer.provider.asked == [(None, 200), (None, 200)]
    await client.close()


async def test_an_issuer_that_cannot_answer_early_leaves_the_token_for_its_ttl(
    peer: Peer,
) -> None:
    clock = FixedClock(NOW)
    client = _own(peer)
    documents = PublishedDocuments(client, revalidate=10, clock=clock)
    first = await documents.fetch(peer.base + PATH)
    peer.provider.failing = True
    clock.advance(11)
    assert await documents.fetch(peer.base + PATH) == first
    assert peer.provider.asked[-1] == ('"1.1"', 500)
    clock.advance(290)  # its ttl since the last answer is over: the failure is the caller's
    with pytest.raises(OutboundFailed, match="500"):
        await documents.fetch(peer.base + PATH)
    await client.close()
