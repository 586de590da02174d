"""Values that may be used once (DPoP proof identifiers and the like): scope, hash of the
value and how long it is remembered

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "single_use_values",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("value_hash", sa.String(length=64), nullable=False),
        sa.Column("keep_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "value_hash", name=op.f("pk_single_use_values")),
    )
    op.create_index(
        op.f("ix_single_use_values_keep_until"),
        "single_use_values",
        ["keep_until"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_single_use_values_keep_until"), table_name="single_use_values")
    op.drop_table("single_use_values")
