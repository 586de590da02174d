"""A Redis server for the tests that need one: ``TEST_REDIS_URL`` (default the local
server on 127.0.0.1:6379) when it answers; else a throwaway ``redis-server`` on a free
port when the binary is installed; else none, and those tests are skipped loudly (under
CI they fail). Each test keeps its keys apart with a prefix of its own."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import socket
import subprocess
import time

import pytest

DEFAULT_URL = "redis://127.0.0.1:6379/0"
_FOUND: dict[str, str] = {}


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _start_throwaway() -> str | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(process.terminate)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if answers("127.0.0.1", port):
            return f"redis://127.0.0.1:{port}/0"
        time.sleep(0.1)
    return None


def redis_url() -> str:
    """A Redis server's URL, or the test is skipped (failed under CI) saying why."""
    if "url" not in _FOUND:
        url = os.environ.get("TEST_REDIS_URL", DEFAULT_URL)
        host_port = url.split("://", 1)[1].split("/", 1)[0]
        host, _, port = host_port.rpartition(":")
        if answers(host, int(port)):
            _FOUND["url"] = url
        else:
            _FOUND["url"] = _start_throwaway() or ""
    if not _FOUND["url"]:
        message = "Redis NOT AVAILABLE: nothing answers at TEST_REDIS_URL and no redis-server"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI requires it)", pytrace=False)
        pytest.skip(message)
    return _FOUND["url"]


def unique_key_prefix() -> str:
    return f"idwallet-test-{secrets.token_hex(6)}"
