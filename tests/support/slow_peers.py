"""Peers that answer HTTP slowly, on a real loopback socket: raw asyncio TCP servers that
write the bytes of an HTTP/1.1 answer at whatever pace a test needs, in a thread of their
own so that the client under test (in process or in a server) meets them over the network.

- ``trickle``: the headers at once (``Content-Length: 100``), then one byte every 2 s;
- ``endless-headers``: a status line, then one byte of a header every 0.5 s, never ending;
- ``stall``: the headers and half the declared body at once, then nothing;
- ``think``: nothing for 2.5 s (a peer working on its answer), then the whole answer;
- ``fast``: a 200 KiB answer at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

TRICKLE_LENGTH = 100
TRICKLE_INTERVAL = 2.0
FAST_LENGTH = 200 * 1024
SLOW_PEER_KINDS = ("trickle", "endless-headers", "stall", "think", "fast")


def _head(length: int, content_type: str = "application/json") -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()


async def _answer(kind: str, writer: asyncio.StreamWriter) -> None:
    if kind == "trickle":
        writer.write(_head(TRICKLE_LENGTH))
        for _ in range(TRICKLE_LENGTH):
            await writer.drain()
            await asyncio.sleep(TRICKLE_INTERVAL)
            writer.write(b" ")
    elif kind == "endless-headers":
        writer.write(b"HTTP/1.1 200 OK\r\nX-Padding: ")
        while True:
            await writer.drain()
            await asyncio.sleep(0.5)
            writer.write(b"a")
    elif kind == "stall":
        writer.write(_head(2 * FAST_LENGTH) + b" " * FAST_LENGTH)
        await writer.drain()
        await asyncio.Event().wait()
    elif kind == "think":
        await asyncio.sleep(2.5)
        writer.write(_head(2) + b"{}")
    else:
        writer.write(_head(FAST_LENGTH, "text/plain") + b"x" * FAST_LENGTH)
    await writer.drain()


@dataclass
class SlowPeer:
    """Where the peer listens; any path ending in ``/{kind}`` answers as that kind does."""

    host: str
    port: int
    requests: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def exception(self) -> str:
        """Its ``host:port``, as the outbound client's development exception names it."""
        return f"{self.host}:{self.port}"


@contextmanager
def running_slow_peer() -> Iterator[SlowPeer]:
    loop = asyncio.new_event_loop()
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            path = request.split(b" ", 2)[1].decode()
            peer.requests.append(path)
            await _answer(path.rsplit("/", 1)[-1], writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up on us, as it should
        finally:
            handlers.discard(task)
            writer.close()

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    peer = SlowPeer("127.0.0.1", server.sockets[0].getsockname()[1])
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:

        async def stop() -> None:
            server.close()
            for task in list(handlers):
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
