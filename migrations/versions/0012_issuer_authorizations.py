"""Wallets' authorizations in the authorization code flow: what was pushed, who the
citizen is, the code given (hashes of the request_uri and the code only); the grant an
offer carries (pre-authorized code, or authorization code with issuer_state)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issuer_authorizations",
        sa.Column("authorization_id", sa.String(length=64), nullable=False),
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("request_uri_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=256), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("configuration_ids", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("wallet_state", sa.String(length=512), nullable=True),
        sa.Column("offer_id", sa.String(length=64), nullable=True),
        sa.Column("dpop_jkt", sa.String(length=64), nullable=True),
        sa.Column("client_key", sa.String(length=64), nullable=True),
        sa.Column("subject_id", sa.String(length=200), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("authorization_id", name=op.f("pk_issuer_authorizations")),
        sa.UniqueConstraint("request_uri_hash", name=op.f("uq_issuer_authorizations_request_uri_hash")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_issuer_authorizations_code_hash")),
    )
    op.add_column(
        "issuer_offers",
        sa.Column(
            "grant_type",
            sa.String(length=64),
            nullable=False,
            server_default="urn:ietf:params:oauth:grant-type:pre-authorized_code",
        ),
    )
    op.create_index(
        op.f("ix_issuer_authorizations_expires_at"),
        "issuer_authorizations",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    with op.batch_alter_table("issuer_offers") as batch:
        batch.drop_column("grant_type")
    op.drop_index(op.f("ix_issuer_authorizations_expires_at"), table_name="issuer_authorizations")
    op.drop_table("issuer_authorizations")
