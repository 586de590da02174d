"""A foreign issuer's Status Provider on a real loopback port: status list tokens
(``statuslist+jwt``, Token Status List §5.1) signed by a key whose certificate names the
issuer and chains to the stand-ins' root (``stand_ins.ANCHOR``), with an ``ETag`` per
version (a matching ``If-None-Match`` gets 304). It counts the requests for each list,
so a test can hold the watching to one fetch per list per ``ttl``."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from core.keys.signer import SoftwareSigner
from core.status_list.bits import StatusList
from core.status_list.token import build_status_list_token
from tests.wallet.stand_ins import _leaf


@dataclass
class StatusLists:
    base: str
    ttl: int = 120
    size: int = 4096
    lists: dict[str, StatusList] = field(default_factory=dict)
    versions: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    not_modified: Counter[str] = field(default_factory=Counter)
    #: While set, every request is answered 503 (the Status Provider is down).
    failing: bool = False

    def __post_init__(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        self.signer = SoftwareSigner(
            key, x5c=tuple(_leaf("Foreign Issuer", key, uris=(self.base,)))
        )

    def uri(self, name: str) -> str:
        return f"{self.base}/lists/{name}"

    def set(self, name: str, index: int, status: int) -> None:
        status_list = self.lists.setdefault(name, StatusList.empty(2, self.size))
        status_list.set(index, status)
        self.versions[name] += 1

    def token(self, name: str) -> str:
        status_list = self.lists.setdefault(name, StatusList.empty(2, self.size))
        return build_status_list_token(
            status_list,
            self.signer,
            uri=self.uri(name),
            issued_at=int(time.time()),
            ttl=self.ttl,
            include_x5c=True,
        )


def _handler(lists: StatusLists) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = urlsplit(self.path).path.removeprefix("/lists/")
            lists.requests[name] += 1
            if lists.failing:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = f'"{name}-{lists.versions[name]}"'
            if self.headers.get("If-None-Match") == etag:
                lists.not_modified[name] += 1
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            body = lists.token(name).encode("ascii")
            self.send_response(200)
            self.send_header("Content-Type", "application/statuslist+jwt")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    return Handler


@contextmanager
def running_status_lists(ttl: int = 120) -> Iterator[StatusLists]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    lists = StatusLists(f"http://localhost:{port}", ttl=ttl)
    server.RequestHandlerClass = _handler(lists)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield lists
    finally:
        server.shutdown()
        server.server_close()
