"""An app with the demo agencies, on a migrated SQLite file, behind a test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app import create_app
from app.migrate import upgrade
from app.settings import Settings

PUBLIC_BASE_URL = "https://id.example.gov"


@pytest.fixture
def settings(var_dir: Path) -> Settings:
    url = f"sqlite+aiosqlite:///{var_dir / 'idwallet.db'}"
    upgrade(url)
    return Settings(var_dir=var_dir, database_url=url, public_base_url=PUBLIC_BASE_URL)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(settings), base_url=PUBLIC_BASE_URL) as client:
        yield client
