"""The presentation a citizen's wallet is asked for during an authorization (presentation
during issuance): the counter's transaction and what the citizen's browser needs of it,
kept on the authorization it identifies the citizen for

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-14 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issuer_authorizations") as batch:
        batch.add_column(sa.Column("presentation", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issuer_authorizations") as batch:
        batch.drop_column("presentation")
