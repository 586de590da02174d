"""Mediators removed or given a new key: a removed mediator keeps its row (its mediations
and help requests name it) but no key

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-01 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mediators") as batch:
        batch.alter_column("key_hash", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("removed_at", sa.Float(), nullable=True))


def downgrade() -> None:
    # a removed mediator's key hash becomes its id: no key is known whose SHA-256 that is,
    # so it stays without a usable key (and ids are unique, as key hashes must be)
    op.execute("UPDATE mediators SET key_hash = mediator_id WHERE key_hash IS NULL")
    with op.batch_alter_table("mediators") as batch:
        batch.drop_column("removed_at")
        batch.alter_column("key_hash", existing_type=sa.String(64), nullable=False)
