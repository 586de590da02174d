"""Access tokens bound to the wallet's DPoP key (RFC 9449 §6: the thumbprint of the key,
NULL for a bearer token); refresh tokens of wallets' authorizations, in families, bound
to the wallet and its DPoP key (hashes only)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "issuer_access_grants",
        sa.Column("dpop_jkt", sa.String(length=64), nullable=True),
    )
    op.create_table(
        "issuer_refresh_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=64), nullable=False),
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("configuration_id", sa.String(length=128), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("client_id", sa.String(length=256), nullable=False),
        sa.Column("dpop_jkt", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_issuer_refresh_tokens")),
    )
    op.create_index(
        op.f("ix_issuer_refresh_tokens_family_id"),
        "issuer_refresh_tokens",
        ["family_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_issuer_refresh_tokens_expires_at"),
        "issuer_refresh_tokens",
        ["expires_at"],
        unique=False,
    )
    op.create_index(
        "ix_issuer_refresh_tokens_subject",
        "issuer_refresh_tokens",
        ["issuer_id", "subject_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_issuer_refresh_tokens_subject", table_name="issuer_refresh_tokens")
    op.drop_index(
        op.f("ix_issuer_refresh_tokens_expires_at"), table_name="issuer_refresh_tokens"
    )
    op.drop_index(op.f("ix_issuer_refresh_tokens_family_id"), table_name="issuer_refresh_tokens")
    op.drop_table("issuer_refresh_tokens")
    with op.batch_alter_table("issuer_access_grants") as batch:
        batch.drop_column("dpop_jkt")
