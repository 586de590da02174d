"""Who may read ``/metrics`` and where it is served.

- ``IDWALLET_METRICS_PORT``: on a port of its own (bound to ``IDWALLET_HOST``, served by
  the ``idwallet serve`` process itself), never on the API's port.
- ``IDWALLET_METRICS_TOKEN``: ``Authorization: Bearer <token>`` is required (compared in
  constant time), on the API's port or on the metrics port.
- Neither: open on the API's port in development; not served at all in production (404),
  and start-up says how to enable it.

With several workers each process keeps its own counters; ``idwallet serve`` then gives
them a shared ``PROMETHEUS_MULTIPROC_DIR`` (made afresh, or the one configured, emptied
at start), where the Prometheus client writes every worker's values and from which every
scrape adds them up (its multiprocess mode), whichever process answers it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from litestar import Controller
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusController
from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app, multiprocess

from core.errors import InvalidToken

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
HOW_TO_ENABLE = (
    "/metrics is not served: set IDWALLET_METRICS_PORT (a port of its own) or "
    "IDWALLET_METRICS_TOKEN (a bearer token on the public port) to enable it"
)


def token_matches(expected: str, authorization: str | None) -> bool:
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(
        hashlib.sha256(expected.encode()).digest(),
        hashlib.sha256(presented.strip().encode("utf-8", "replace")).digest(),
    )


def metrics_controller(token: str | None) -> type[Controller]:
    """``GET /metrics`` on the API's port, behind the token when there is one."""

    def require_token(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if token is not None and not token_matches(token, connection.headers.get("authorization")):
            raise InvalidToken("the metrics token is required")

    class MetricsController(PrometheusController):
        path = "/metrics"
        include_in_schema = False
        guards = [require_token]  # noqa: RUF012 - litestar reads a list

    return MetricsController


def metrics_registry() -> CollectorRegistry:
    """Every worker's metrics in multiprocess mode, else this process's."""
    if os.environ.get(MULTIPROC_VARIABLE):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


@contextmanager
def worker_metrics(workers: int) -> Iterator[Path | None]:
    """A shared multiprocess directory for ``workers`` > 1 (or the configured one):
    emptied before the workers start, removed afterwards when made here."""
    configured = os.environ.get(MULTIPROC_VARIABLE)
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):  # a previous run's values would add up
            stale.unlink()
        yield directory
        return
    if workers < 2:
        yield None
        return
    made = tempfile.mkdtemp(prefix="idwallet-metrics-")
    os.environ[MULTIPROC_VARIABLE] = made
    try:
        yield Path(made)
    finally:
        os.environ.pop(MULTIPROC_VARIABLE, None)
        shutil.rmtree(made, ignore_errors=True)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _IPv6Server(_ThreadingServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""


StartResponse = Callable[..., Any]


def metrics_port_app(
    token: str | None,
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    exposition = make_wsgi_app(metrics_registry())

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: the metrics are at /metrics\n"]
        if token is not None and not token_matches(token, environ.get("HTTP_AUTHORIZATION")):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="metrics"')],
            )
            return [b"the metrics token is required\n"]
        result: Iterable[bytes] = exposition(environ, start_response)
        return result

    return app


def serve_metrics(host: str, port: int, token: str | None) -> WSGIServer:
    """The metrics port, served by a thread of this process until it exits."""
    server_class = _IPv6Server if ":" in host else _ThreadingServer
    server = make_server(
        host, port, metrics_port_app(token), server_class=server_class, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
