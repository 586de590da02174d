"""Offers say why the agency read its register for them (an issuance or a wallet's fresh
batch) and when it asked the register who the citizen is (a presentation during
issuance): the wallet is told each read with its purpose

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-01 01:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issuer_offers") as batch:
        batch.add_column(sa.Column("register_read_purpose", sa.String(32), nullable=True))
        batch.add_column(sa.Column("identified_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issuer_offers") as batch:
        batch.drop_column("identified_at")
        batch.drop_column("register_read_purpose")
