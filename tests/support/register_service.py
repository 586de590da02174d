"""The demo register service as its own process (``idwallet register serve``), for tests
that read registers over a real connection; and a register that takes queries and never
answers (a register stalled past the agencies' outbound deadline)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import ROOT, free_port, idwallet_env


@dataclass
class RunningRegister:
    url: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


@contextmanager
def running_register(
    var_dir: Path,
    *,
    public_base_url: str,
    args: Sequence[str] = (),
    scheme: str = "http",
    health: Mapping[str, Any] | None = None,
    **extra: str,
) -> Iterator[RunningRegister]:
    """The demo register for the agencies of ``public_base_url`` (their certificates name
    it), its key under the trust anchor of ``var_dir`` (made there if absent); ``args``
    go to ``idwallet register serve`` (TLS files), ``health`` to the health check's
    client (its ``verify`` and ``cert`` for a register behind mutual TLS)."""
    port = free_port()
    env = idwallet_env(var_dir, IDWALLET_PUBLIC_BASE_URL=public_base_url, **extra)
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "register", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    register = RunningRegister(f"{scheme}://127.0.0.1:{port}", process)
    stdout = process.stdout
    assert stdout is not None
    drain = threading.Thread(target=lambda: register.output.extend(stdout), daemon=True)
    drain.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"{register.url}/health", timeout=2, **(health or {}))
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                drain.join(timeout=10)
                raise RuntimeError(f"register exited early: {''.join(register.output)}")
            if time.monotonic() > deadline:
                raise RuntimeError("register did not come up")
            time.sleep(0.2)
        yield register
    finally:
        register.stop()
        drain.join(timeout=10)


@contextmanager
def stalled_register() -> Iterator[str]:
    """A register that accepts each query, reads it and never answers: its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(connection)  # kept open, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopping.set()
        thread.join(timeout=5)
        listener.close()
        for connection in held:
            connection.close()
