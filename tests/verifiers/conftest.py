"""The same app as the issuer tests (demo agencies and counters), on SQLite and PostgreSQL."""

from tests.issuers.conftest import client, settings

__all__ = ["client", "settings"]
