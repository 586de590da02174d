"""Alembic: upgrade to head and back on SQLite and PostgreSQL, and the migrated schema
is exactly what the models describe (no drift between migrations and code)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from app.migrate import downgrade, upgrade
from app.models import metadata
from core.storage.engine import create_engine
from tests.conftest import backend_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = backend_url(request.param, tmp_path)
    downgrade(url, "base")  # the PostgreSQL database is shared by the session: start empty
    upgrade(url)
    yield url
    downgrade(url, "base")


def _inspect(url: str, check: Any) -> Any:
    async def run() -> Any:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(check)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_migrated_schema_matches_the_models(migrated_url: str) -> None:
    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    assert _inspect(migrated_url, diff) == []


def test_downgrade_to_base_removes_every_table(migrated_url: str) -> None:
    downgrade(migrated_url, "base")

    def tables(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names()) - {"alembic_version"}

    assert _inspect(migrated_url, tables) == set()
    upgrade(migrated_url)
    assert "signing_keys" in _inspect(migrated_url, tables)
