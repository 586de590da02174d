"""What the oversight use cases need from the outside, each as a small protocol: the
registered auditors, and the counts of the audit trail (read through its rolled-up days and
the entries not rolled up yet). Appending an auditor's own reads goes through
``core.audit.trail.AuditTrail``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from oversight.domain import Auditor, CountedGroup, Period


class Auditors(Protocol):
    async def register(self, auditor: Auditor, key_digest: str) -> bool:
        """Records the auditor with the digest of its key; False (nothing changed) when an
        auditor of that id is registered already."""
        ...

    async def by_key_digest(self, key_digest: str) -> Auditor | None:
        """The auditor whose key has this digest, or None."""
        ...

    async def replace_key(self, auditor_id: str, key_digest: str) -> bool:
        """Gives the auditor a new key (the old one opens nothing from now on); False when
        no auditor has that id."""
        ...

    async def remove(self, auditor_id: str) -> bool:
        """Forgets the auditor and its key; False when none has that id."""
        ...

    async def listed(self) -> list[Auditor]:
        """Every registered auditor, by id."""
        ...


class AuditCounts(Protocol):
    async def count(self, period: Period, actions: Sequence[str]) -> list[CountedGroup]:
        """The entries of ``actions`` stamped within the period, counted by actor, action,
        outcome and facts: each entry exactly once, whether rolled up or not yet."""
        ...

    async def roll_up(self, now: float) -> int:
        """One roll-up pass (a no-op while another worker runs one): the entries appended
        since the last pass added to the daily counts; how many were added."""
        ...
