"""The citizen's notifications (credentials revoked, suspended, reinstated, expiring or
expired, deferred credentials ready, devices added), the browsers' push subscriptions,
and the status-list watching behind them (the lists held credentials reference, a keyed
index of (list, index) to the credential, each credential's expiry)

Revision ID: 0022
Revises: 0020
Create Date: 2026-11-30 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None


def _account(table: str) -> tuple[sa.Column[str], sa.ForeignKeyConstraint]:
    return (
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["wallet_accounts.account_id"],
            name=f"fk_{table}_account_id_wallet_accounts",
            ondelete="CASCADE",
        ),
    )


def upgrade() -> None:
    op.create_table(
        "wallet_notifications",
        sa.Column("notification_id", sa.String(36), nullable=False),
        *_account("wallet_notifications"),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("read_at", sa.Float(), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("notification_id", name="pk_wallet_notifications"),
    )
    op.create_index("ix_wallet_notifications_account_id", "wallet_notifications", ["account_id"])
    op.create_index("ix_wallet_notifications_at", "wallet_notifications", ["at"])
    op.create_table(
        "wallet_push_subscriptions",
        sa.Column("subscription_id", sa.String(36), nullable=False),
        *_account("wallet_push_subscriptions"),
        sa.Column("endpoint_key", sa.String(64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", name="pk_wallet_push_subscriptions"),
        sa.UniqueConstraint("endpoint_key", name="uq_wallet_push_subscriptions_endpoint_key"),
    )
    op.create_index(
        "ix_wallet_push_subscriptions_account_id", "wallet_push_subscriptions", ["account_id"]
    )
    op.create_table(
        "wallet_status_lists",
        sa.Column("list_key", sa.String(64), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("next_fetch_at", sa.Float(), nullable=False),
        sa.Column("needed_until", sa.Float(), nullable=False),
        sa.Column("last_list", sa.Text(), nullable=True),
        sa.Column("last_digest", sa.String(64), nullable=True),
        sa.Column("fetched_at", sa.Float(), nullable=True),
        sa.Column("fetches", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("list_key", name="pk_wallet_status_lists"),
    )
    op.create_index("ix_wallet_status_lists_next_fetch_at", "wallet_status_lists", ["next_fetch_at"])
    op.create_index("ix_wallet_status_lists_needed_until", "wallet_status_lists", ["needed_until"])
    op.create_table(
        "wallet_status_watches",
        sa.Column("watch_key", sa.String(64), nullable=False),
        sa.Column("credential_id", sa.String(36), nullable=False),
        *_account("wallet_status_watches"),
        sa.PrimaryKeyConstraint("watch_key", "credential_id", name="pk_wallet_status_watches"),
    )
    op.create_index(
        "ix_wallet_status_watches_credential_id", "wallet_status_watches", ["credential_id"]
    )
    op.create_index("ix_wallet_status_watches_account_id", "wallet_status_watches", ["account_id"])
    op.create_table(
        "wallet_credential_watches",
        sa.Column("credential_id", sa.String(36), nullable=False),
        *_account("wallet_credential_watches"),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("due_at", sa.Float(), nullable=True),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("credential_id", name="pk_wallet_credential_watches"),
    )
    op.create_index(
        "ix_wallet_credential_watches_account_id", "wallet_credential_watches", ["account_id"]
    )
    op.create_index("ix_wallet_credential_watches_due_at", "wallet_credential_watches", ["due_at"])
    op.create_table(
        "wallet_task_leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(36), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_wallet_task_leases"),
    )


def downgrade() -> None:
    for table in (
        "wallet_task_leases",
        "wallet_credential_watches",
        "wallet_status_watches",
        "wallet_status_lists",
        "wallet_push_subscriptions",
        "wallet_notifications",
    ):
        op.drop_table(table)
