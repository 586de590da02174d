"""Partial index of revoked and suspended credentials, for publishing large status lists

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_issuer_credentials_flagged",
        "issuer_credentials",
        ["status_list_id", "status_index"],
        unique=False,
        sqlite_where=sa.text("status <> 0"),
        postgresql_where=sa.text("status <> 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_issuer_credentials_flagged", table_name="issuer_credentials")
