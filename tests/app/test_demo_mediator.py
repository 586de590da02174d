"""The demo citizen space and mediator (app.demo_mediator, docs/mediators.md) on SQLite and
PostgreSQL: a fresh ``var/`` and database give exactly one space and one mediator whose key,
in ``var/``, opens the mediator API; a restart adds none; several workers starting at once
agree on one of each; production seeds nothing."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app import create_app
from app.cli import _print_welcome
from app.demo_mediator import (
    DEMO_MEDIATOR_ID,
    DEMO_SPACE,
    demo_mediator_key_path,
    seed_demo_mediator,
)
from app.settings import Settings
from tests.conftest import migrated_database
from wallet.services.mediators import secret_hash
from wallet.storage.mediations import SqlMediations


@asynccontextmanager
async def _mediations(url: str) -> AsyncIterator[SqlMediations]:
    """A worker's own connection pool to the database."""
    engine = create_async_engine(url)
    try:
        yield SqlMediations(async_sessionmaker(engine, expire_on_commit=False))
    finally:
        await engine.dispose()


def _listed(client: TestClient[Any]) -> list[tuple[str, list[str]]]:
    async def spaces() -> list[tuple[str, list[str]]]:
        return [
            (space.space_id, [m.mediator_id for m in members])
            for space, members in await client.app.state.wallet.mediations.spaces()
        ]

    listed: list[tuple[str, list[str]]] = client.blocking_portal.call(spaces)
    return listed


def test_a_fresh_start_seeds_one_space_and_mediator_and_a_restart_none(
    var_dir: Path, database_url: str
) -> None:
    settings = Settings(var_dir=var_dir, database_url=migrated_database(database_url))
    assert not demo_mediator_key_path(settings).exists()
    with TestClient(app=create_app(settings)) as client:
        assert _listed(client) == [(DEMO_SPACE.space_id, [DEMO_MEDIATOR_ID])]
    path = demo_mediator_key_path(settings)
    assert path.parent == var_dir and path.stat().st_mode & 0o777 == 0o600
    key = path.read_text(encoding="ascii").strip()

    with TestClient(app=create_app(settings)) as client:
        assert _listed(client) == [(DEMO_SPACE.space_id, [DEMO_MEDIATOR_ID])]
        assert path.read_text(encoding="ascii").strip() == key
        me = client.get("/mediator/api/me", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 200, me.text
        profile = me.json()
        assert profile["mediator_id"] == DEMO_MEDIATOR_ID
        assert profile["space"]["name"] == DEMO_SPACE.name
        assert profile["space"]["languages"] == ["pt", "en"]
        wrong = client.get("/mediator/api/me", headers={"Authorization": "Bearer " + "x" * 43})
        assert wrong.status_code == 401


def test_workers_starting_at_once_seed_one_of_each(var_dir: Path, database_url: str) -> None:
    settings = Settings(var_dir=var_dir, database_url=migrated_database(database_url))
    asyncio.run(_start_workers_at_once(settings))


async def _start_workers_at_once(settings: Settings) -> None:
    async with AsyncExitStack() as stack:
        workers = [
            await stack.enter_async_context(_mediations(settings.database_url)) for _ in range(4)
        ]
        await asyncio.gather(*(seed_demo_mediator(settings, worker) for worker in workers))
        spaces = await workers[0].spaces()
    assert [(s.space_id, [m.mediator_id for m in ms]) for s, ms in spaces] == [
        (DEMO_SPACE.space_id, [DEMO_MEDIATOR_ID])
    ]
    key = demo_mediator_key_path(settings).read_text(encoding="ascii").strip()
    async with _mediations(settings.database_url) as mediations:
        mediator = await mediations.mediator_by_key(secret_hash(key))
    assert mediator is not None and mediator.mediator_id == DEMO_MEDIATOR_ID


def test_production_seeds_nothing(var_dir: Path, database_url: str) -> None:
    settings = dataclasses.replace(
        Settings(var_dir=var_dir, database_url=migrated_database(database_url)),
        environment="production",
    )

    async def seed() -> None:
        async with _mediations(settings.database_url) as mediations:
            await seed_demo_mediator(settings, mediations)
            assert await mediations.spaces() == []

    asyncio.run(seed())
    assert not demo_mediator_key_path(settings).exists()


def test_the_welcome_lines_name_the_demo_mediator_key(
    var_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(var_dir=var_dir)
    _print_welcome(settings, "127.0.0.1", 8000)
    printed = capsys.readouterr().out
    assert f"demo mediator       {DEMO_MEDIATOR_ID} at {DEMO_SPACE.space_id}" in printed
    assert str(demo_mediator_key_path(settings)) in printed
