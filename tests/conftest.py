"""Shared fixtures: databases (a fresh SQLite file per test; a fresh PostgreSQL database
per session, emptied per test), keys and clocks."""

from __future__ import annotations

import inspect
import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import metadata
from core.storage.engine import create_engine
from tests.support import postgres
from tests.support.key_attestations import seed_wallet_provider
from tests.support.log_canary import CanaryHandler, leaks
from tests.support.softhsm import SoftHsm, new_softhsm, require_softhsm

_POSTGRES: dict[str, object] = {}
_CANARY = CanaryHandler()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_CANARY)


@pytest.fixture(autouse=True)
def no_personal_data_in_logs() -> Iterator[None]:
    """Whatever a test provokes, its log lines carry no personal data (the log canary)."""
    _CANARY.take()
    yield
    found = leaks(_CANARY.take())
    if found:
        pytest.fail("personal data reached the log:\n" + "\n".join(found[:5]), pytrace=False)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _postgres_url() -> str:
    """A database of its own for this test session on a real PostgreSQL server."""
    if "url" in _POSTGRES:
        return str(_POSTGRES["url"])
    if "skip" in _POSTGRES:
        pytest.skip(str(_POSTGRES["skip"]))
    server = postgres.find_or_start()
    if server.url is None:
        message = f"PostgreSQL leg NOT RUN: {server.origin}"
        if os.environ.get("CI") and not os.environ.get("IDWALLET_TEST_ALLOW_NO_POSTGRES"):
            pytest.fail(message + " (CI requires it)", pytrace=False)
        _POSTGRES["skip"] = message
        pytest.skip(message)
    name = f"idwallet_test_{secrets.token_hex(4)}"
    url = postgres.run_in_thread(postgres.create_database(server.url, name))
    _POSTGRES.update(url=url, server=server, name=name)
    return url


def _postgres_leg() -> tuple[str, bool] | None:
    """What this process's PostgreSQL leg did: (where it ran, or why not; whether it ran)."""
    server = _POSTGRES.get("server")
    if isinstance(server, postgres.PostgresServer):
        return f"PostgreSQL leg: ran against {server.origin}", True
    if "skip" in _POSTGRES:
        return str(_POSTGRES["skip"]), False
    return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leg = _postgres_leg()
    server = _POSTGRES.get("server")
    if isinstance(server, postgres.PostgresServer) and server.url:
        postgres.run_in_thread(postgres.drop_database(server.url, str(_POSTGRES["name"])))
        server.stop()
    worker_output = getattr(session.config, "workeroutput", None)
    if worker_output is not None and leg is not None:  # a test process of pytest-xdist
        worker_output["postgres_leg"] = leg


_LEGS_OF_WORKERS: list[tuple[str, bool]] = []


def pytest_testnodedown(node: Any, error: object) -> None:
    leg = getattr(node, "workeroutput", {}).get("postgres_leg")
    if leg is not None:
        _LEGS_OF_WORKERS.append((str(leg[0]), bool(leg[1])))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    own = _postgres_leg()
    for message, ran in sorted(set(_LEGS_OF_WORKERS + ([own] if own else []))):
        if ran:
            terminalreporter.write_line(message)
        else:
            terminalreporter.write_line(f"!!! {message} !!!", red=True, bold=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(request.param, tmp_path)


@asynccontextmanager
async def fresh_engine(url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty schema (tables created from the models), dropped afterwards.
    Alembic's bookkeeping goes with the tables: a migration test that later finds the
    shared database must not believe tables are there that this dropped."""
    from sqlalchemy import text

    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await connection.run_sync(metadata.create_all)
    try:
        yield engine
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
        await engine.dispose()


def backend_url(backend: str, tmp_path: Path) -> str:
    """``sqlite`` (a fresh file) or ``postgresql`` (this session's database)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'idwallet.db'}"
    return _postgres_url()


def migrated_database(url: str) -> str:
    """The database at ``url`` emptied (tables and Alembic's bookkeeping) and migrated to head."""
    from sqlalchemy import text

    from app.migrate import upgrade

    async def empty() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(metadata.drop_all)
                await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        finally:
            await engine.dispose()

    postgres.run_in_thread(empty())
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHsm:
    """This test process's SoftHSM2 token directory (its module reads ``SOFTHSM2_CONF``
    once per process, so the variable is set here for the rest of the session); each test
    makes its own token in it (``softhsm.new_token``)."""
    hsm = new_softhsm(tmp_path_factory.mktemp("softhsm"), require_softhsm())
    os.environ.update(hsm.env())
    return hsm


@pytest.fixture
def hsm_token(softhsm: SoftHsm) -> str:
    """A fresh token of this test's own in the process's SoftHSM2 (its label)."""
    return softhsm.new_token(f"t-{secrets.token_hex(6)}")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with fresh_engine(database_url) as engine:
        yield engine


@pytest.fixture
def var_dir(tmp_path: Path) -> Iterator[Path]:
    """A deployment's ``var`` directory, its wallet-provider CA the tests' own
    (``tests.support.key_attestations.deployment_provider``)."""
    path = tmp_path / "var"
    path.mkdir()
    seed_wallet_provider(path)
    yield path


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Every ``async def`` test runs under anyio (asyncio backend)."""
    if name.startswith("test") and inspect.iscoroutinefunction(obj):
        pytest.mark.anyio(obj)
