"""One active signing key per owner, enforced by a partial unique index

Workers starting together on an empty database could each create an owner's first key.
Where that happened, every active key but the newest is retired (it stays resolvable by
``kid``, so what it signed keeps verifying) before the index is created.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 19:00:00
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.get_bind().execute(
        sa.text(
            "UPDATE signing_keys SET retired_at = :now WHERE retired_at IS NULL AND EXISTS ("
            " SELECT 1 FROM signing_keys newer WHERE newer.owner = signing_keys.owner"
            " AND newer.retired_at IS NULL AND (newer.created_at > signing_keys.created_at"
            " OR (newer.created_at = signing_keys.created_at AND newer.kid > signing_keys.kid)))"
        ),
        {"now": time.time()},
    )
    op.create_index(
        "uq_signing_keys_active_owner",
        "signing_keys",
        ["owner"],
        unique=True,
        sqlite_where=sa.text("retired_at IS NULL"),
        postgresql_where=sa.text("retired_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_signing_keys_active_owner", table_name="signing_keys")
