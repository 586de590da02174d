"""Offers whose claims the agency read from its register for them: when it read them
(the wallet is told which register the credential's data came from)

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 20:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issuer_offers") as batch:
        batch.add_column(sa.Column("register_read_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issuer_offers") as batch:
        batch.drop_column("register_read_at")
