"""Oversight: registered auditors, and the daily roll-up of the audit trail

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oversight_auditors",
        sa.Column("auditor_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_digest", sa.String(64), nullable=False),
        sa.Column("registered_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("auditor_id", name=op.f("pk_oversight_auditors")),
        sa.UniqueConstraint("key_digest", name=op.f("uq_oversight_auditors_key_digest")),
    )
    op.create_table(
        "oversight_groups",
        sa.Column("group_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("actor_kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_oversight_groups")),
    )
    op.create_index(
        "ix_oversight_groups_action_actor", "oversight_groups", ["action", "actor"]
    )
    op.create_table(
        "oversight_rollup",
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("group_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "group_id", name=op.f("pk_oversight_rollup")),
    )
    op.create_table(
        "oversight_rollup_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rolled_through", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oversight_rollup_state")),
    )
    op.create_table(
        "oversight_rollup_gaps",
        sa.Column("first_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("noticed_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("first_id", name=op.f("pk_oversight_rollup_gaps")),
    )


def downgrade() -> None:
    op.drop_table("oversight_rollup_gaps")
    op.drop_table("oversight_rollup_state")
    op.drop_table("oversight_rollup")
    op.drop_index("ix_oversight_groups_action_actor", table_name="oversight_groups")
    op.drop_table("oversight_groups")
    op.drop_table("oversight_auditors")
