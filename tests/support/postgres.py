"""A PostgreSQL server for the test suite.

Order: ``TEST_DATABASE_URL`` (or the local default) if it answers; otherwise a throwaway
cluster started from the server binaries on this machine (``initdb`` + ``pg_ctl``, as the
``postgres`` user when running as root); otherwise none, with the reason.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

T = TypeVar("T")
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass
class PostgresServer:
    url: str | None
    origin: str
    data_dir: str | None = None
    run_as: str | None = None
    pg_ctl: str | None = None
    options: str = ""

    def _control(self, *action: str) -> None:
        assert self.data_dir and self.pg_ctl, "only a throwaway cluster is ours to control"
        result = _run(
            [
                self.pg_ctl,
                "-D",
                self.data_dir,
                "-o",
                self.options,
                "-w",
                "-l",
                f"{self.data_dir}/log",
                *action,
            ],
            self.run_as,
        )
        assert result.returncode == 0, result.stderr

    def halt(self) -> None:
        """Stop the server as an operator would for maintenance (``-m fast``)."""
        self._control("-m", "fast", "stop")

    def resume(self) -> None:
        self._control("start")

    def restart(self) -> None:
        self._control("-m", "fast", "restart")

    def stop(self) -> None:
        if self.data_dir and self.pg_ctl:
            _run([self.pg_ctl, "-D", self.data_dir, "-m", "immediate", "stop"], self.run_as)
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _probe(url: str) -> None:
    connection = await asyncpg.connect(_dsn(url), timeout=3)
    await connection.close()


def run_in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh loop, even from inside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def reachable(url: str) -> str | None:
    """None when the server answers, else the reason."""
    try:
        run_in_thread(_probe(url))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _binaries() -> tuple[str, str] | None:
    initdb = shutil.which("initdb")
    pg_ctl = shutil.which("pg_ctl")
    if not initdb:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if found:
            initdb = found[-1]
            pg_ctl = os.path.join(os.path.dirname(initdb), "pg_ctl")
    if initdb and pg_ctl and os.path.exists(pg_ctl):
        return initdb, pg_ctl
    return None


def _run(command: list[str], user: str | None) -> subprocess.CompletedProcess[str]:
    if user:
        command = ["runuser", "-u", user, "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_throwaway(settings: Sequence[str] = ()) -> PostgresServer:
    """A cluster of its own in a temporary directory, with ``settings`` (``name=value``)
    besides the defaults."""
    binaries = _binaries()
    if binaries is None:
        return PostgresServer(
            None, "no PostgreSQL server binaries (initdb, pg_ctl) on this machine"
        )
    initdb, pg_ctl = binaries
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return PostgresServer(None, "running as root and there is no postgres user for initdb")
        run_as = "postgres"
    data_dir = tempfile.mkdtemp(prefix="idwallet-pg-")
    if run_as:
        shutil.chown(data_dir, run_as)
    result = _run([initdb, "-D", data_dir, "-U", "postgres", "--auth=trust", "-E", "UTF8"], run_as)
    if result.returncode != 0:
        return PostgresServer(None, f"initdb failed: {result.stderr.strip()[:300]}")
    port = _free_port()
    options = f"-p {port} -k {data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
    options += "".join(f" -c {setting}" for setting in settings)
    result = _run(
        [pg_ctl, "-D", data_dir, "-o", options, "-w", "-l", f"{data_dir}/log", "start"], run_as
    )
    if result.returncode != 0:
        return PostgresServer(None, f"pg_ctl start failed: {result.stderr.strip()[:300]}")
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    return PostgresServer(
        url, f"throwaway cluster on port {port}", data_dir, run_as, pg_ctl, options
    )


def find_or_start() -> PostgresServer:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_URL)
    reason = reachable(url)
    if reason is None:
        return PostgresServer(
            url, f"server at {make_url(url).render_as_string(hide_password=True)}"
        )
    server = start_throwaway()
    if server.url is None:
        server.origin = f"{url} unreachable ({reason}); {server.origin}"
    return server


async def create_database(server_url: str, name: str) -> str:
    connection = await asyncpg.connect(_dsn(server_url), timeout=10)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, name: str) -> None:
    connection = await asyncpg.connect(_dsn(server_url), timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
