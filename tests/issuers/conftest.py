"""An app with the demo agencies, on a migrated SQLite file, behind a test client."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app import create_app
from app.rate_limit_policy import RateLimitPolicy
from app.settings import Settings
from tests.conftest import migrated_database

PUBLIC_BASE_URL = "https://id.example.gov"


@pytest.fixture
def settings(var_dir: Path, database_url: str) -> Settings:
    """On SQLite and on PostgreSQL (the ``database_url`` fixture runs each test on both)."""
    return Settings(
        var_dir=var_dir,
        database_url=migrated_database(database_url),
        public_base_url=PUBLIC_BASE_URL,
    )


def without_rate_limits(settings: Settings) -> Settings:
    """For the tests that hammer one endpoint from one client on purpose: what they check
    (one token per code, one index per credential) must hold with no rate limit in front."""
    return dataclasses.replace(settings, rate_limits=RateLimitPolicy.off())


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(settings), base_url=PUBLIC_BASE_URL) as client:
        yield client
