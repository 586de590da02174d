"""A stored credential's listing (what the citizen's list shows of it) sealed beside its
record, so listing credentials opens a few hundred bytes each, not every credential of
every batch. Rows stored before have none: the first listing derives and keeps it (the
data keys needed to seal it are not the migration's to use).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-01 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wallet_credentials") as batch:
        batch.add_column(sa.Column("sealed_listing", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wallet_credentials") as batch:
        batch.drop_column("sealed_listing")
