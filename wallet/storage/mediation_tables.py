"""Tables of assisted access (docs/mediators.md): citizen spaces, their mediators, the
mediators' help requests and the mediations citizens consented to. Keys, codes and tokens
are kept only as their SHA-256 (hex)."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.base import Base


class MediationSpaceRow(Base):
    __tablename__ = "mediation_spaces"

    space_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Comma-separated language tags.
    languages: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Float)


class MediatorRow(Base):
    __tablename__ = "mediators"

    mediator_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    space_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("mediation_spaces.space_id"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    languages: Mapped[str] = mapped_column(String(100))
    #: None once the mediator is removed (``idwallet mediator remove``).
    key_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    removed_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class HelpRequestRow(Base):
    """A mediator's help request: its code (shown to the citizen) and the token of the
    mediation it becomes, both hashed; claimed once by the citizen who consents."""

    __tablename__ = "mediation_help_requests"

    request_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    mediator_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("mediators.mediator_id"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    account_id: Mapped[str | None] = mapped_column(
        String(36),
        ForeignKey("wallet_accounts.account_id", ondelete="CASCADE"),
        nullable=True,
        index=True,
    )
    mediation_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    #: ``wallet`` (the code) or ``national_id`` (a presentation to ``answer_hash``).
    mode: Mapped[str] = mapped_column(String(16), default="wallet")
    answer_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    transaction_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class MediationRow(Base):
    __tablename__ = "wallet_mediations"

    mediation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("wallet_accounts.account_id", ondelete="CASCADE"), index=True
    )
    mediator_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("mediators.mediator_id"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
