"""A real ``idwallet serve`` process on a free loopback port, for tests that need one;
its wallet-provider CA is the tests' own (``tests.support.key_attestations``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.key_attestations import seed_wallet_provider
from tests.support.log_canary import leaks

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def idwallet_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The server's environment: this one's without any ``IDWALLET_*``, then ``extra``.
    Rate limits are off unless ``extra`` sets them: these servers carry what a crowd
    would send (load generators, browser sessions, crash loops) from one loopback address."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDWALLET_")}
    env["IDWALLET_VAR_DIR"] = str(var_dir)
    env["IDWALLET_RATE_LIMITS"] = "off"
    env.update(extra)
    return env


@dataclass
class RunningServer:
    base_url: str
    process: subprocess.Popen[str]
    env: dict[str, str]
    output: str = ""


@contextmanager
def running_server(
    var_dir: Path, *, command_prefix: Sequence[str] = (), **extra: str
) -> Iterator[RunningServer]:
    """``command_prefix`` runs the server under another command (``taskset -c 0``); the
    port is ``IDWALLET_PORT`` when ``extra`` names one, a free one otherwise."""
    with running_checkout(ROOT, var_dir, command_prefix=command_prefix, env=extra) as server:
        yield server


@contextmanager
def running_checkout(
    root: Path, var_dir: Path, *, command_prefix: Sequence[str] = (), env: dict[str, str]
) -> Iterator[RunningServer]:
    """``running_server`` with the code of the checkout ``root`` (another revision's, for
    a benchmark's "before") and ``env`` besides."""
    extra = env
    port = int(extra.get("IDWALLET_PORT") or free_port())
    env = idwallet_env(var_dir, **extra)
    seed_wallet_provider(var_dir)  # its wallet provider attests as the tests' wallets do
    process = subprocess.Popen(
        [*command_prefix, sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = RunningServer(f"http://127.0.0.1:{port}", process, env)
    lines: list[str] = []
    stdout = process.stdout
    assert stdout is not None

    def drain_output() -> None:  # all along: a full pipe would block the server's next log line
        for line in stdout:
            lines.append(line)

    drain = threading.Thread(target=drain_output, daemon=True)
    drain.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                drain.join(timeout=10)
                raise RuntimeError(f"server exited early: {''.join(lines)}")
            if time.monotonic() > deadline:
                raise RuntimeError("server did not come up")
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        drain.join(timeout=10)
        server.output = "".join(lines)
    found = leaks(server.output)
    assert not found, "personal data reached the server's log:\n" + "\n".join(found[:5])
