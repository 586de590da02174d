"""The PostgreSQL driver's own connection, borrowed from the engine's pool: given back
after use, and failing to be made exactly as ``engine.connect()`` fails, so that the
application answers both alike."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.driver import postgres_connection
from core.storage.engine import create_engine


def _postgres(database_url: str) -> str:
    if "postgresql" not in database_url:
        pytest.skip("the driver's own connection is PostgreSQL's")
    return database_url


async def test_a_borrowed_connection_goes_back_to_the_pool(
    database_url: str, engine: AsyncEngine
) -> None:
    _postgres(database_url)
    for _ in range(3):
        async with postgres_connection(engine) as driver:
            assert await driver.fetchval("SELECT $1::int + 1", 41) == 42
            assert engine.sync_engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with pytest.raises(ZeroDivisionError):
        async with postgres_connection(engine):
            raise ZeroDivisionError
    assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_connection_that_cannot_be_made_fails_as_engine_connect_fails(
    database_url: str,
) -> None:
    url = make_url(_postgres(database_url)).set(database="idwallet_no_such_database")
    engine = create_engine(url.render_as_string(hide_password=False))
    try:
        with pytest.raises(DBAPIError) as connected:
            async with engine.connect():
                pass
        with pytest.raises(DBAPIError) as borrowed:
            async with postgres_connection(engine):
                pass
        assert type(borrowed.value) is type(connected.value)
        assert type(borrowed.value.orig) is type(connected.value.orig)
        assert borrowed.value.connection_invalidated == connected.value.connection_invalidated
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
