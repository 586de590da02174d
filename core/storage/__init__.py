"""Storage base: the SQLAlchemy declarative ``Base`` with a naming convention (so Alembic
migrations name constraints the same on SQLite and PostgreSQL), the async engine factory,
and the SQL implementations of core ports (wrapped signing keys, values that may be
used once).

The only package in ``core`` that may import SQLAlchemy. Tests: ``tests/core/storage``.
"""
