"""Assisted access at citizen spaces: spaces, mediators, help requests, mediations

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mediation_spaces",
        sa.Column("space_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("languages", sa.String(100), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("space_id", name=op.f("pk_mediation_spaces")),
    )
    op.create_table(
        "mediators",
        sa.Column("mediator_id", sa.String(64), nullable=False),
        sa.Column("space_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("languages", sa.String(100), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["space_id"],
            ["mediation_spaces.space_id"],
            name=op.f("fk_mediators_space_id_mediation_spaces"),
        ),
        sa.PrimaryKeyConstraint("mediator_id", name=op.f("pk_mediators")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_mediators_key_hash")),
    )
    op.create_index(op.f("ix_mediators_space_id"), "mediators", ["space_id"])
    op.create_table(
        "mediation_help_requests",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("mediator_id", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=True),
        sa.Column("mediation_id", sa.String(36), nullable=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("answer_hash", sa.String(64), nullable=True),
        sa.Column("transaction_id", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["mediator_id"],
            ["mediators.mediator_id"],
            name=op.f("fk_mediation_help_requests_mediator_id_mediators"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["wallet_accounts.account_id"],
            name=op.f("fk_mediation_help_requests_account_id_wallet_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_mediation_help_requests")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_mediation_help_requests_code_hash")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_mediation_help_requests_token_hash")),
        sa.UniqueConstraint("answer_hash", name=op.f("uq_mediation_help_requests_answer_hash")),
    )
    for column in ("mediator_id", "expires_at", "account_id"):
        op.create_index(
            op.f(f"ix_mediation_help_requests_{column}"), "mediation_help_requests", [column]
        )
    op.create_table(
        "wallet_mediations",
        sa.Column("mediation_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("mediator_id", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["wallet_accounts.account_id"],
            name=op.f("fk_wallet_mediations_account_id_wallet_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mediator_id"],
            ["mediators.mediator_id"],
            name=op.f("fk_wallet_mediations_mediator_id_mediators"),
        ),
        sa.PrimaryKeyConstraint("mediation_id", name=op.f("pk_wallet_mediations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_wallet_mediations_token_hash")),
    )
    for column in ("account_id", "mediator_id", "expires_at"):
        op.create_index(op.f(f"ix_wallet_mediations_{column}"), "wallet_mediations", [column])


def downgrade() -> None:
    op.drop_table("wallet_mediations")
    op.drop_table("mediation_help_requests")
    op.drop_index(op.f("ix_mediators_space_id"), table_name="mediators")
    op.drop_table("mediators")
    op.drop_table("mediation_spaces")
