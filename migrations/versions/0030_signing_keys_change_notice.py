"""Every change to the signing and decryption keys is told, as it commits, to every
worker's change feed (PostgreSQL only): a worker keeps an owner's active key until then

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01 04:40:00
"""

from __future__ import annotations

from alembic import op

from core.storage.key_records import KEYS_CHANGED_FUNCTION, KEYS_CHANGED_TRIGGER

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(KEYS_CHANGED_FUNCTION)
    op.execute(KEYS_CHANGED_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS signing_keys_changed ON signing_keys")
    op.execute("DROP FUNCTION IF EXISTS idwallet_keys_changed()")
