"""Notifications told once: what the citizen was last told of each watched credential's
status, the mark that has the watching look at a credential again, when it was indexed;
the device each push subscription was made from

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 10:00:00

Credentials watched before this revision were told of their status already: they are
marked so that the watching records their status as it stands, without telling it again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wallet_credential_watches") as batch:
        batch.add_column(sa.Column("told", sa.String(64), nullable=True))
        batch.add_column(sa.Column("pending", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("indexed_at", sa.Float(), nullable=True))
    op.create_index(
        "ix_wallet_credential_watches_pending", "wallet_credential_watches", ["pending"]
    )
    op.execute("UPDATE wallet_credential_watches SET told = 'unknown', pending = 1")
    with op.batch_alter_table("wallet_push_subscriptions") as batch:
        batch.add_column(sa.Column("device_id", sa.String(36), nullable=True))
    op.create_index(
        "ix_wallet_push_subscriptions_device_id", "wallet_push_subscriptions", ["device_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_wallet_push_subscriptions_device_id", "wallet_push_subscriptions")
    with op.batch_alter_table("wallet_push_subscriptions") as batch:
        batch.drop_column("device_id")
    op.drop_index("ix_wallet_credential_watches_pending", "wallet_credential_watches")
    with op.batch_alter_table("wallet_credential_watches") as batch:
        batch.drop_column("indexed_at")
        batch.drop_column("pending")
        batch.drop_column("told")
