"""Tables of the verifier role; portable types only (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from sqlalchemy import Boolean, Float, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.base import Base


class TransactionRow(Base):
    """One presentation request and, once answered, its result (until purged)."""

    __tablename__ = "verifier_transactions"
    __table_args__ = (
        # A counter's open requests, counted against its cap when it makes another.
        Index(
            "ix_verifier_transactions_open",
            "verifier_id",
            "expires_at",
            sqlite_where=text("status IN ('waiting', 'request_fetched')"),
            postgresql_where=text("status IN ('waiting', 'request_fetched')"),
        ),
    )

    transaction_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    verifier_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dcql_query: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64))
    response_mode: Mapped[str] = mapped_column(String(32))
    same_device: Mapped[bool] = mapped_column(Boolean)
    client_id: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float, index=True)
    expires_at: Mapped[float] = mapped_column(Float)
    request_fetched_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    completed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    wallet_nonce: Mapped[str | None] = mapped_column(String(300), nullable=True)
    extra: Mapped[str] = mapped_column(Text)
