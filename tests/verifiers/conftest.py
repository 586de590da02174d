"""The same app as the issuer tests (demo agencies and counters), on SQLite and PostgreSQL,
with the stand-in issuer's anchor among the verifier's trusted issuer anchors."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings
from tests.conftest import migrated_database
from tests.issuers.conftest import PUBLIC_BASE_URL, client
from tests.verifiers.stand_in_issuer import write_anchor

__all__ = ["client", "settings"]


@pytest.fixture
def settings(var_dir: Path, database_url: str) -> Settings:
    return Settings(
        var_dir=var_dir,
        database_url=migrated_database(database_url),
        public_base_url=PUBLIC_BASE_URL,
        trusted_issuer_anchors=write_anchor(var_dir),
    )
