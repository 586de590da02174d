"""The whole app (demo agencies, counters, the mobile API) on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.issuers.conftest import client
from tests.verifiers.conftest import settings

__all__ = ["client", "settings"]
