"""Sealed credential responses, kept for the wallet's retry until the access token ends

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issuer_credential_responses",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_issuer_credential_responses")),
    )
    op.create_index(
        op.f("ix_issuer_credential_responses_expires_at"),
        "issuer_credential_responses",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_issuer_credential_responses_expires_at"), table_name="issuer_credential_responses"
    )
    op.drop_table("issuer_credential_responses")
