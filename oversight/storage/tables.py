"""Tables of the oversight role; portable types only (SQLite and PostgreSQL alike).

The roll-up keeps, per UTC day, how many entries of the audit trail fall in each group
(``oversight_groups``: actor kind, actor, action, outcome and facts as the trail's canonical
JSON); ``oversight_rollup_state``
says up to which ``audit_entries.id`` entries are rolled up and which worker holds the
roll-up lease; ``oversight_rollup_gaps`` lists ranges of ids at or below that cursor that
had no committed entry when the pass went by (an append still in flight, or one rolled
back), looked at again by every pass for an hour."""

from __future__ import annotations

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.base import Base


class AuditorRow(Base):
    """A registered oversight body; its key kept as a SHA-256 digest only."""

    __tablename__ = "oversight_auditors"

    auditor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    registered_at: Mapped[float] = mapped_column(Float)


class GroupRow(Base):
    """One kind of entry the roll-up counts: actor kind, actor, action, outcome and facts
    (the trail's canonical JSON). Only the roll-up's lease holder adds groups."""

    __tablename__ = "oversight_groups"
    __table_args__ = (Index("ix_oversight_groups_action_actor", "action", "actor"),)

    group_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor_kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(64))
    facts: Mapped[str] = mapped_column(Text)


class RollupRow(Base):
    """How many entries of one group one UTC day had."""

    __tablename__ = "oversight_rollup"

    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    group_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)


class RollupStateRow(Base):
    """The one row (``id`` 1) of the roll-up's progress and lease."""

    __tablename__ = "oversight_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: Every entry with an id up to this one is rolled up, except those in the gaps.
    rolled_through: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[float] = mapped_column(Float)


class RollupGapRow(Base):
    """Ids ``first_id`` to ``last_id`` (at or below the cursor) not rolled up yet."""

    __tablename__ = "oversight_rollup_gaps"

    first_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer)
    noticed_at: Mapped[float] = mapped_column(Float)
