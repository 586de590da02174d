"""Tables of the issuer role; portable types only (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import (
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.oauth import PRE_AUTHORIZED_GRANT
from core.storage.base import Base


class OfferRow(Base):
    __tablename__ = "issuer_offers"
    __table_args__ = (
        # Housekeeping reads only offers that still hold claims (the recent ones), however
        # many ended offers the table keeps.
        Index(
            "ix_issuer_offers_unredacted",
            "expires_at",
            sqlite_where=text("claims <> ''"),
            postgresql_where=text("claims <> ''"),
        ),
    )

    offer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    issuer_id: Mapped[str] = mapped_column(String(64))
    configuration_id: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(200), index=True)
    claims: Mapped[str] = mapped_column(Text)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    tx_code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tx_code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    tx_code_max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    redeemed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: The grant the offer carries to the wallet (OpenID4VCI 1.0 §4.1.1).
    grant_type: Mapped[str] = mapped_column(
        String(64), default=PRE_AUTHORIZED_GRANT, server_default=PRE_AUTHORIZED_GRANT
    )
    #: Other configurations offered with it (space-separated ids; empty: none).
    other_configurations: Mapped[str] = mapped_column(Text, default="", server_default="")
    register_read_at: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)
    register_read_purpose: Mapped[str | None] = mapped_column(
        String(32), nullable=True, default=None
    )
    identified_at: Mapped[float | None] = mapped_column(Float, nullable=True, default=None)


class GrantRow(Base):
    __tablename__ = "issuer_access_grants"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    offer_id: Mapped[str] = mapped_column(String(64), unique=True)
    issuer_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    used: Mapped[bool] = mapped_column(Boolean, default=False)
    dpop_jkt: Mapped[str | None] = mapped_column(String(64), nullable=True)


class GrantUseRow(Base):
    """A configuration an access grant was used for, where its offer has several (each
    is asked for once; the grant is used up once every one was)."""

    __tablename__ = "issuer_grant_uses"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    configuration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class RefreshTokenRow(Base):
    """A refresh token of a wallet's authorization (``issuers.domain.RefreshToken``)."""

    __tablename__ = "issuer_refresh_tokens"
    __table_args__ = (Index("ix_issuer_refresh_tokens_subject", "issuer_id", "subject_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    issuer_id: Mapped[str] = mapped_column(String(64))
    configuration_id: Mapped[str] = mapped_column(String(128))
    subject_id: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str] = mapped_column(String(256))
    dpop_jkt: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class AuthorizationRow(Base):
    """A wallet's authorization in the authorization code flow (``issuers.domain``)."""

    __tablename__ = "issuer_authorizations"

    authorization_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    issuer_id: Mapped[str] = mapped_column(String(64))
    request_uri_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(256))
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    code_challenge: Mapped[str] = mapped_column(String(128))
    configuration_ids: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    wallet_state: Mapped[str | None] = mapped_column(String(512), nullable=True)
    offer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dpop_jkt: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    subject_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    #: The presentation the citizen's wallet was asked for (presentation during issuance).
    presentation: Mapped[str | None] = mapped_column(Text, nullable=True)


class NonceRow(Base):
    """A ``c_nonce`` that has been used, kept until it would have expired anyway."""

    __tablename__ = "issuer_nonces"

    nonce_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    issuer_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class CredentialRow(Base):
    __tablename__ = "issuer_credentials"
    __table_args__ = (
        UniqueConstraint("status_list_id", "status_index"),
        # Publishing a list reads only its revoked and suspended entries: a partial index
        # keeps that proportional to them, not to the millions of valid ones.
        Index(
            "ix_issuer_credentials_flagged",
            "status_list_id",
            "status_index",
            sqlite_where=text("status <> 0"),
            postgresql_where=text("status <> 0"),
        ),
    )

    credential_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    issuer_id: Mapped[str] = mapped_column(String(64))
    offer_id: Mapped[str] = mapped_column(String(64), index=True)
    subject_id: Mapped[str] = mapped_column(String(200), index=True)
    configuration_id: Mapped[str] = mapped_column(String(64))
    status_list_id: Mapped[str] = mapped_column(String(100))
    status_index: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer, default=0)
    issued_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    notification_id: Mapped[str] = mapped_column(String(64), index=True)
    notification_event: Mapped[str | None] = mapped_column(String(32), nullable=True)


class CredentialResponseRow(Base):
    """A sealed credential response, for the wallet's retry until its access token ends."""

    __tablename__ = "issuer_credential_responses"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class ApplicationRow(Base):
    """A credential request waiting for a clerk's approval (``issuers.domain.Application``).
    ``sealed`` holds the claims and holder keys (``''`` once the application has ended),
    ``refusal`` the clerk's sealed reason, ``response`` the sealed credential response
    kept for a repeat of the deferred request that collected it."""

    __tablename__ = "issuer_applications"
    __table_args__ = (Index("ix_issuer_applications_queue", "issuer_id", "state", "created_at"),)

    application_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    issuer_id: Mapped[str] = mapped_column(String(64))
    offer_id: Mapped[str] = mapped_column(String(64), index=True)
    configuration_id: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(200))
    sealed: Mapped[str] = mapped_column(Text)
    transaction_hash: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    notification_id: Mapped[str] = mapped_column(String(64))
    dpop_jkt: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    decided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    refusal: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    response: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class StatusListRow(Base):
    __tablename__ = "issuer_status_lists"

    list_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    issuer_id: Mapped[str] = mapped_column(String(64), index=True)
    bits: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    published_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    published_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class AuditRow(Base):
    __tablename__ = "issuer_audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issuer_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


#: The tables themselves, for Core statements on the issuance path.
OFFERS = cast(Table, OfferRow.__table__)
GRANTS = cast(Table, GrantRow.__table__)
GRANT_USES = cast(Table, GrantUseRow.__table__)
STATUS_LISTS = cast(Table, StatusListRow.__table__)
RESPONSES = cast(Table, CredentialResponseRow.__table__)
APPLICATIONS = cast(Table, ApplicationRow.__table__)
AUTHORIZATIONS = cast(Table, AuthorizationRow.__table__)
REFRESH_TOKENS = cast(Table, RefreshTokenRow.__table__)
AUDIT = cast(Table, AuditRow.__table__)
