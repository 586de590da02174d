"""Indexes for housekeeping and the caps on pending state: offers that still hold claims,
expired access and refresh tokens, a counter's open requests

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_issuer_offers_unredacted",
        "issuer_offers",
        ["expires_at"],
        unique=False,
        sqlite_where=sa.text("claims <> ''"),
        postgresql_where=sa.text("claims <> ''"),
    )
    op.create_index(
        op.f("ix_issuer_access_grants_expires_at"),
        "issuer_access_grants",
        ["expires_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_wallet_refresh_tokens_expires_at"),
        "wallet_refresh_tokens",
        ["expires_at"],
        unique=False,
    )
    op.create_index(
        "ix_verifier_transactions_open",
        "verifier_transactions",
        ["verifier_id", "expires_at"],
        unique=False,
        sqlite_where=sa.text("status IN ('waiting', 'request_fetched')"),
        postgresql_where=sa.text("status IN ('waiting', 'request_fetched')"),
    )


def downgrade() -> None:
    op.drop_index("ix_verifier_transactions_open", table_name="verifier_transactions")
    op.drop_index(op.f("ix_wallet_refresh_tokens_expires_at"), table_name="wallet_refresh_tokens")
    op.drop_index(op.f("ix_issuer_access_grants_expires_at"), table_name="issuer_access_grants")
    op.drop_index("ix_issuer_offers_unredacted", table_name="issuer_offers")
