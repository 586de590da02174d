"""The outbound client's guard: https only, public addresses only (checked on the address
actually connected to), redirects only when asked for and then re-checked, bodies capped;
exact host:port exceptions only; local origins served in process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from core.http.client import OutboundClient, OutboundFailed, OutboundRefused


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path in ("/redirect", "/redirect-inward-https", "/redirect-home"):
            target = {
                "/redirect": "http://169.254.169.254/latest/meta-data",
                "/redirect-inward-https": "https://10.0.0.1/latest",
                "/redirect-home": "/small",
            }[self.path]
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()
            return
        body = b"x" * (2048 if self.path == "/big" else 10)
        self.send_response(200)
        self.send_header("Content-Type", "application/statuslist+jwt")
        if self.path != "/undeclared":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body * (1 if self.path != "/undeclared" else 300))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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


def _exception(peer: str) -> str:
    return peer.removeprefix("http://")


async def test_redirects_are_not_followed_unless_asked(peer: str) -> None:
    client = OutboundClient(exceptions=[_exception(peer)])
    with pytest.raises(OutboundFailed, match="302"):
        await client.fetch(f"{peer}/redirect", accept="*/*")
    home = await client.fetch(f"{peer}/redirect-home", accept="*/*", max_redirects=2)
    assert home.body == b"x" * 10
    await client.close()


@pytest.mark.parametrize("path", ["/redirect", "/redirect-inward-https"])
async def test_every_redirect_target_is_checked(peer: str, path: str) -> None:
    client = OutboundClient(exceptions=[_exception(peer)], timeout=2)
    with pytest.raises(OutboundRefused):
        await client.fetch(f"{peer}{path}", accept="*/*", max_redirects=3)
    await client.close()


async def test_exceptions_are_exact_host_and_port(peer: str) -> None:
    host, port = _exception(peer).split(":")
    client = OutboundClient(exceptions=[f"{host}:{int(port) + 1}"], timeout=2)
    with pytest.raises(OutboundRefused):
        await client.fetch(f"{peer}/small", accept="*/*")
    with pytest.raises(OutboundRefused):
        await client.fetch(f"https://{host}:{port}/small", accept="*/*")
    await client.close()
    with pytest.raises(ValueError):
        OutboundClient(exceptions=["127.0.0.1"])


async def test_posts_return_any_status_with_the_body(peer: str) -> None:
    client = OutboundClient(exceptions=[_exception(peer)])
    answer = await client.send("POST", f"{peer}/token", accept="*/*", form={"a": "b c"})
    assert answer.status == 400 and answer.body == b"a=b+c"
    await client.close()


@pytest.mark.parametrize("path", ["/big", "/undeclared"])
async def test_bodies_are_capped(peer: str, path: str) -> None:
    client = OutboundClient(exceptions=[_exception(peer)])
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
