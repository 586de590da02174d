"""Applications for credentials a clerk approves first (deferred issuance, OpenID4VCI 1.0
§8.3 and §9): what the wallet asked for, sealed; hashes of its transaction_id and access
token and the DPoP key the token is bound to; the clerk's decision; the delivered response, sealed, for a repeated request

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issuer_applications",
        sa.Column("application_id", sa.String(length=64), nullable=False),
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("configuration_id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("transaction_hash", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("notification_id", sa.String(length=64), nullable=False),
        sa.Column("dpop_jkt", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("decided_at", sa.Float(), nullable=True),
        sa.Column("refusal", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.Float(), nullable=True),
        sa.Column("response", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_issuer_applications")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_issuer_applications_token_hash")),
    )
    op.create_index(
        "ix_issuer_applications_queue",
        "issuer_applications",
        ["issuer_id", "state", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_issuer_applications_offer_id"), "issuer_applications", ["offer_id"], unique=False
    )
    op.create_index(
        op.f("ix_issuer_applications_expires_at"),
        "issuer_applications",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_issuer_applications_expires_at"), table_name="issuer_applications")
    op.drop_index(op.f("ix_issuer_applications_offer_id"), table_name="issuer_applications")
    op.drop_index("ix_issuer_applications_queue", table_name="issuer_applications")
    op.drop_table("issuer_applications")
