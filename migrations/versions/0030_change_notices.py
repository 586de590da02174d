"""Every change to the signing and decryption keys, every device revoked and account
deleted is told, as it commits, to every worker's change feed (PostgreSQL only): a worker
keeps an owner's active key and a session's check until then

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01 04:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

#: table, the topic its changes are told under, and the changes told
_NOTICES = (
    ("signing_keys", "keys", "INSERT OR UPDATE OR DELETE OR TRUNCATE"),
    ("wallet_accounts", "sessions", "UPDATE OR DELETE OR TRUNCATE"),
    ("wallet_devices", "sessions", "UPDATE OR DELETE OR TRUNCATE"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, topic, events in _NOTICES:
        op.execute(
            f"CREATE OR REPLACE FUNCTION idwallet_{table}_changed() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('idwallet_changes',"
            f" '{topic}'); RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_changed AFTER {events} ON {table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION idwallet_{table}_changed()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, _, _ in _NOTICES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS idwallet_{table}_changed()")
