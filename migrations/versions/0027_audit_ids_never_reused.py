"""Audit entries' ids are never reused on SQLite (AUTOINCREMENT), so the oversight
roll-up's cursor, an id, still finds the entries appended after retention removed every
row; the unused index on the entries' time goes

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_UNCHAINED = sa.text("position IS NULL")


def upgrade() -> None:
    op.drop_index("ix_audit_entries_at", table_name="audit_entries")
    if op.get_bind().dialect.name != "sqlite":
        return  # a PostgreSQL sequence never gives an id twice
    op.drop_index("ix_audit_entries_unchained", table_name="audit_entries")
    with op.batch_alter_table(
        "audit_entries", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass
    op.create_index(
        "ix_audit_entries_unchained", "audit_entries", ["id"], sqlite_where=_UNCHAINED
    )
    # The next id follows the highest ever given out as far as anything still knows it:
    # the rows left, and the roll-up's cursor (ids of rows retention removed before).
    op.execute(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'audit_entries', 0"
        " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'audit_entries')"
    )
    op.execute(
        "UPDATE sqlite_sequence SET seq = MAX(seq,"
        " COALESCE((SELECT MAX(id) FROM audit_entries), 0),"
        " COALESCE((SELECT rolled_through FROM oversight_rollup_state WHERE id = 1), 0),"
        " COALESCE((SELECT MAX(last_id) FROM oversight_rollup_gaps), 0))"
        " WHERE name = 'audit_entries'"
    )


def downgrade() -> None:
    op.create_index("ix_audit_entries_at", "audit_entries", ["at"])
