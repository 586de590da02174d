"""Everything the oversight use cases share: the ports, the clock, the threshold below
which a figure is suppressed."""

from __future__ import annotations

from dataclasses import dataclass

from core.audit.trail import AuditTrail
from core.clock import SYSTEM_CLOCK, Clock
from oversight.domain import MAX_PERIOD_DAYS
from oversight.ports import AuditCounts, Auditors

#: ``IDWALLET_OVERSIGHT_MIN_COUNT``'s default: figures from 1 to 4 are suppressed.
DEFAULT_MIN_COUNT = 5


@dataclass(frozen=True, slots=True)
class OversightContext:
    auditors: Auditors
    counts: AuditCounts
    #: Where the auditors' own reads are appended (``oversight.viewed``).
    trail: AuditTrail
    min_count: int = DEFAULT_MIN_COUNT
    max_period_days: int = MAX_PERIOD_DAYS
    clock: Clock = SYSTEM_CLOCK
