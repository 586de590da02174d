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

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import metadata
from core.storage.engine import create_engine
from tests.support import postgres
from tests.support.log_canary import CanaryHandler, leaks

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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    server = _POSTGRES.get("server")
    if isinstance(server, postgres.PostgresServer) and server.url:
        postgres.run_in_thread(postgres.drop_database(server.url, str(_POSTGRES["name"])))
        server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    server = _POSTGRES.get("server")
    if isinstance(server, postgres.PostgresServer):
        terminalreporter.write_line(f"PostgreSQL leg: ran against {server.origin}")
    elif "skip" in _POSTGRES:
        terminalreporter.write_line(f"!!! {_POSTGRES['skip']} !!!", red=True, bold=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(request.param, tmp_path)


@asynccontextmanager
async def fresh_engine(url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty schema (tables created from the models), dropped afterwards."""
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
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


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    async with fresh_engine(database_url) as engine:
        yield engine


@pytest.fixture
def var_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "var"
    path.mkdir()
    yield path


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Every ``async def`` test runs under anyio (asyncio backend)."""
    if name.startswith("test") and inspect.iscoroutinefunction(obj):
        pytest.mark.anyio(obj)
