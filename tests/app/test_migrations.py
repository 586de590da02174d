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
from sqlalchemy import inspect, text
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


def test_upgrade_keeps_only_the_newest_of_several_active_keys(migrated_url: str) -> None:
    """Databases where two workers each created an owner's first key: 0007 retires all but
    the newest before it enforces one active key per owner."""
    downgrade(migrated_url, "0006")

    def insert(connection: Connection) -> None:
        for kid, owner, created in (("a", "o", 1.0), ("b", "o", 2.0), ("c", "p", 1.0)):
            connection.execute(
                text(
                    "INSERT INTO signing_keys (kid, owner, alg, public_jwk, wrapped_private_key,"
                    " created_at, retired_at, certificate_chain)"
                    " VALUES (:kid, :owner, 'ES256', '{}', :blob, :created, NULL, '[]')"
                ),
                {"kid": kid, "owner": owner, "blob": b"x", "created": created},
            )
        connection.commit()

    _inspect(migrated_url, insert)
    upgrade(migrated_url)

    def active(connection: Connection) -> list[Any]:
        rows = connection.execute(
            text("SELECT kid FROM signing_keys WHERE retired_at IS NULL ORDER BY kid")
        )
        return [row.kid for row in rows]

    assert _inspect(migrated_url, active) == ["b", "c"]
