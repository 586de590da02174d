"""The outbound client's guard: https only, public addresses only (checked on the address
actually connected to), no redirects, bodies capped; local origins served in process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from core.http.client import OutboundClient, OutboundFailed, OutboundRefused


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data")
            self.end_headers()
            return
        body = b"x" * (2048 if self.path == "/big" else 10)
        self.send_response(200)
        self.send_header("Content-Type", "application/statuslist+jwt")
        if self.path != "/undeclared":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body * (1 if self.path != "/undeclared" else 300))

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def peer() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/list",
        "ftp://example.org/list",
        "file:///etc/passwd",
        "https://user:pw@example.org/list",
    ],
)
async def test_only_plain_https_urls(url: str) -> None:
    client = OutboundClient()
    with pytest.raises(OutboundRefused):
        await client.fetch(url, accept="*/*")
    await client.close()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/list",
        "https://localhost/list",
        "https://[::1]/list",
        "https://10.0.0.1/list",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:127.0.0.1]/list",
        "https://0.0.0.0/list",
    ],
)
async def test_inward_addresses_are_refused_before_connecting(url: str) -> None:
    client = OutboundClient(timeout=2)
    with pytest.raises(OutboundRefused):
        await client.fetch(url, accept="*/*")
    await client.close()


async def test_redirects_are_not_followed(peer: str) -> None:
    client = OutboundClient(allow_http_hosts=["127.0.0.1"])
    with pytest.raises(OutboundFailed, match="302"):
        await client.fetch(f"{peer}/redirect", accept="*/*")
    await client.close()


@pytest.mark.parametrize("path", ["/big", "/undeclared"])
async def test_bodies_are_capped(peer: str, path: str) -> None:
    client = OutboundClient(allow_http_hosts=["127.0.0.1"])
    with pytest.raises(OutboundFailed, match="larger"):
        await client.fetch(f"{peer}{path}", accept="*/*", max_bytes=1024)
    document = await client.fetch(f"{peer}/small", accept="*/*", max_bytes=1024)
    assert document.body == b"x" * 10 and document.content_type == "application/statuslist+jwt"
    await client.close()


async def test_local_origin_is_served_in_process() -> None:
    def app(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="local", headers={"Content-Type": "text/plain"})

    client = OutboundClient(local={"http://127.0.0.1:8000": httpx.MockTransport(app)})
    document = await client.fetch("http://127.0.0.1:8000/issuers/x/status-lists/1", accept="*/*")
    assert document.body == b"local"
    with pytest.raises(OutboundRefused):
        await client.fetch("http://127.0.0.1:8001/other", accept="*/*")
    await client.close()
