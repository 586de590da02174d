"""A row per serving process that the readiness probe rewrites, to know writes work

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployment_readiness",
        sa.Column("node", sa.String(length=200), nullable=False),
        sa.Column("checked_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("node", name=op.f("pk_deployment_readiness")),
    )


def downgrade() -> None:
    op.drop_table("deployment_readiness")
