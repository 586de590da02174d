"""Tables of the citizen's notifications and of the status-list watching behind them;
portable types only (SQLite and PostgreSQL alike).

What a reader of the database learns, and what not (``wallet.services.watch_statuses``
explains the design):

- ``wallet_notifications``, ``wallet_push_subscriptions``: the account, the time, the kind
  and whether it was read; the content (which credential, the issuer, the device) and the
  browser's push endpoint and keys are sealed under the account's data key.
- ``wallet_status_lists``: the status lists some credential held here references (their
  URIs, their issuers, the last token's list): public documents, shared by many citizens;
  nothing says whose.
- ``wallet_status_watches``: a keyed hash of (list URI, index) per credential instance,
  the key derived from the deployment's key-encryption key and never stored: a reader
  holding the issuer's lists cannot tell which index, which list or which issuer an
  account's credential has.
- ``wallet_credential_watches``: that a credential is watched, the day it expires (its
  ``exp`` rounded up to the day) and the day the next expiry notice is due; what the
  citizen was last told of its status as a keyed hash (without the key, "valid",
  "revoked" and "suspended" cannot be told apart, except that valid is no hash at all);
  whether something it depends on changed since it was last looked at.
- ``wallet_task_leases``: which worker runs the watching now.
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.base import Base


def _account() -> ForeignKey:
    return ForeignKey("wallet_accounts.account_id", ondelete="CASCADE")


class NotificationRow(Base):
    __tablename__ = "wallet_notifications"

    notification_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), _account(), index=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    read_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class PushSubscriptionRow(Base):
    __tablename__ = "wallet_push_subscriptions"

    subscription_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), _account(), index=True)
    #: Keyed hash of the endpoint: the same browser subscribing again replaces its row.
    endpoint_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: The device whose session subscribed: revoking the device removes it (None: made
    #: before devices were recorded with subscriptions).
    device_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)


class StatusListRow(Base):
    __tablename__ = "wallet_status_lists"

    #: SHA-256 of the issuer and the URI (the list is verified against that issuer).
    list_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    uri: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(Text)
    next_fetch_at: Mapped[float] = mapped_column(Float, index=True)
    #: Watched until then: the latest expiry of the credentials that referenced it.
    needed_until: Mapped[float] = mapped_column(Float, index=True)
    #: The last verified token's ``status_list`` (``bits`` and ``lst``) and its digest.
    last_list: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fetched_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    fetches: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)


class StatusWatchRow(Base):
    __tablename__ = "wallet_status_watches"

    watch_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    credential_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
    account_id: Mapped[str] = mapped_column(String(36), _account(), index=True)


class CredentialWatchRow(Base):
    __tablename__ = "wallet_credential_watches"

    credential_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36), _account(), index=True)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: When the next expiry notice is due (None: none is).
    due_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    #: 0: the expiring-soon notice is next; 1: the expired notice; 2: both were given.
    stage: Mapped[int] = mapped_column(Integer, default=0)
    #: The status the citizen was last told of (keyed hash; None: valid, nothing told).
    told: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Bumped when a list it references has a new version or it was indexed again; the
    #: watching looks at it then and puts it back to 0 (unless bumped meanwhile).
    pending: Mapped[int] = mapped_column(Integer, default=0, index=True)
    #: When it was last indexed (a credential without ``exp`` is indexed again well
    #: before its lists' watch runs out).
    indexed_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class TaskLeaseRow(Base):
    __tablename__ = "wallet_task_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(36))
    until: Mapped[float] = mapped_column(Float)
