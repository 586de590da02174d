"""Tables of the wallet role; portable types only (SQLite and PostgreSQL alike).

Nothing a citizen would call personal is stored in the clear: credentials, claim values,
holder private keys, device names, pending protocol state and activity details are
``sealed`` (AES-256-GCM under the account's data key, which is itself wrapped by the
deployment's key-encryption key). Deleting an account deletes its wrapped data key with
its rows, so a copy of the database taken before cannot be opened either.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.base import Base
from core.storage.change_feed import SESSIONS, announce_changes


def _account() -> ForeignKey:
    return ForeignKey("wallet_accounts.account_id", ondelete="CASCADE")


class AccountRow(Base):
    __tablename__ = "wallet_accounts"

    account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    wrapped_data_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)


class DeviceRow(Base):
    __tablename__ = "wallet_devices"

    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), _account(), index=True)
    thumbprint: Mapped[str] = mapped_column(String(64), unique=True)
    public_jwk: Mapped[str] = mapped_column(Text)
    sealed_name: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


#: On PostgreSQL, a device revoked or an account deleted, by whoever, is told to every
#: worker's change feed as it commits: a worker keeps a session's check until then.
SESSIONS_CHANGED = (
    announce_changes(cast(Table, AccountRow.__table__), SESSIONS, "UPDATE OR DELETE OR TRUNCATE"),
    announce_changes(cast(Table, DeviceRow.__table__), SESSIONS, "UPDATE OR DELETE OR TRUNCATE"),
)


class ChallengeRow(Base):
    __tablename__ = "wallet_challenges"

    challenge_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class RefreshTokenRow(Base):
    __tablename__ = "wallet_refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    account_id: Mapped[str] = mapped_column(String(36), _account(), index=True)
    device_id: Mapped[str] = mapped_column(String(36), index=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    rotated_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class HolderKeyRow(Base):
    __tablename__ = "wallet_holder_keys"

    holder_key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), _account(), index=True)
    custody: Mapped[str] = mapped_column(String(8))
    public_jwk: Mapped[str] = mapped_column(Text)
    sealed_private_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)


class CredentialRow(Base):
    __tablename__ = "wallet_credentials"

    credential_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), _account(), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    presentations: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    #: A one-time credential: the presentation count from which it needs a fresh batch.
    renew_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Not before then (a renewal that failed is tried again later).
    renew_after: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: What a listing shows of the credential (``CredentialListing``), sealed apart from
    #: the record so a listing need not open records; NULL in rows stored before.
    sealed_listing: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class FlowRow(Base):
    """A receive or present interaction between its steps (scan, accept or approve,
    complete): any worker can take the next step."""

    __tablename__ = "wallet_flows"

    flow_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), _account(), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(24))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    #: A pending (deferred) issuance: when the wallet next asks the issuer.
    due_at: Mapped[float | None] = mapped_column(Float, index=True, nullable=True)


class ActivityRow(Base):
    __tablename__ = "wallet_activity"

    entry_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), _account(), index=True)
    at: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
