"""When the wallet next asks an issuer for a deferred credential: a pending issuance's
time, in the clear so the housekeeping finds the due ones without opening any

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wallet_flows") as batch:
        batch.add_column(sa.Column("due_at", sa.Float(), nullable=True))
        batch.create_index("ix_wallet_flows_due_at", ["due_at"])


def downgrade() -> None:
    with op.batch_alter_table("wallet_flows") as batch:
        batch.drop_index("ix_wallet_flows_due_at")
        batch.drop_column("due_at")
