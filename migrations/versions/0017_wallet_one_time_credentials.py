"""When a one-time credential needs a fresh batch: the presentation count from which it
is due, and the time before which a failed renewal is not tried again

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wallet_credentials") as batch:
        batch.add_column(sa.Column("renew_from", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("renew_after", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wallet_credentials") as batch:
        batch.drop_column("renew_after")
        batch.drop_column("renew_from")
