"""Keys in a PKCS#11 token: where each key's private part is (``location`` and the token
object's ``key_reference``), when a retired key's private part was destroyed, and the
key events of the audit trail (created, rotated, moved, destroyed; the token unavailable
and back)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("signing_keys") as batch:
        batch.add_column(
            sa.Column("location", sa.String(16), nullable=False, server_default="software")
        )
        batch.add_column(
            sa.Column("key_reference", sa.String(64), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("destroyed_at", sa.Float(), nullable=True))
    op.create_table(
        "key_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("kid", sa.String(128), nullable=False, server_default=""),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index(op.f("ix_key_events_at"), "key_events", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_key_events_at"), table_name="key_events")
    op.drop_table("key_events")
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_column("destroyed_at")
        batch.drop_column("key_reference")
        batch.drop_column("location")
