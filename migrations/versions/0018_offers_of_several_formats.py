"""Offers of one credential in several formats: the other configurations an offer
carries, and which of them its access grant was used for

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issuer_offers") as batch:
        batch.add_column(
            sa.Column("other_configurations", sa.Text(), nullable=False, server_default="")
        )
    op.create_table(
        "issuer_grant_uses",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("configuration_id", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index(
        op.f("ix_issuer_grant_uses_expires_at"), "issuer_grant_uses", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_issuer_grant_uses_expires_at"), table_name="issuer_grant_uses")
    op.drop_table("issuer_grant_uses")
    with op.batch_alter_table("issuer_offers") as batch:
        batch.drop_column("other_configurations")
