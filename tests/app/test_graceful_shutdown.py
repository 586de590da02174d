"""Graceful shutdown: on SIGTERM a node stops taking new connections, lets the request it
is in the middle of finish and answer, then exits cleanly. The request here is an
agency's offer whose body is still arriving when the signal comes."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import migrated_database
from tests.issuers.test_catalog import CITIZEN
from tests.support.invariants import count_rows
from tests.support.server import free_port, running_server
from tests.support.write_load import operator_headers


def test_sigterm_lets_the_request_in_flight_finish(tmp_path: Path, var_dir: Path) -> None:
    url = migrated_database(f"sqlite+aiosqlite:///{tmp_path / 'shutdown.db'}")
    port = free_port()
    with running_server(var_dir, IDWALLET_PORT=str(port), IDWALLET_DATABASE_URL=url) as server:
        body = json.dumps(
            {
                "subject_id": "in-flight",
                "credential_configuration_id": "national_id",
                "claims": CITIZEN,
            }
        ).encode()
        head = (
            "POST /issuers/civil-registry/offers HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            f"Authorization: {operator_headers(var_dir, 'civil-registry')['Authorization']}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            connection.sendall(head + body[:10])  # the request has begun
            time.sleep(0.3)
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            with pytest.raises(httpx.TransportError):  # no new connections meanwhile
                httpx.get(f"{server.base_url}/health", timeout=2)
            assert server.process.poll() is None, "the node left before its request finished"
            connection.sendall(body[10:])
            response = b""
            while chunk := connection.recv(65536):
                response += chunk
        assert response.startswith(b"HTTP/1.1 201"), response[:200]
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.output
    assert "Traceback" not in server.output
    assert count_rows(url, "SELECT count(*) FROM issuer_offers WHERE subject_id = 'in-flight'") == 1
