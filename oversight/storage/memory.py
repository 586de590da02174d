"""In-memory implementations of the oversight ports, for tests and a single process: the
same behaviour as ``sql.py`` (the contract tests run both), including the split between
rolled-up days and the entries not rolled up yet."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from core.audit.trail import AuditEntry, FactValue
from oversight.domain import Auditor, CountedGroup, Period, day_of

_Key = tuple[str, str, str, str, tuple[tuple[str, FactValue], ...]]


class MemoryAuditors:
    def __init__(self) -> None:
        self._auditors: dict[str, tuple[Auditor, str]] = {}

    async def register(self, auditor: Auditor, key_digest: str) -> bool:
        if auditor.auditor_id in self._auditors:
            return False
        self._auditors[auditor.auditor_id] = (auditor, key_digest)
        return True

    async def by_key_digest(self, key_digest: str) -> Auditor | None:
        return next((a for a, d in self._auditors.values() if d == key_digest), None)

    async def replace_key(self, auditor_id: str, key_digest: str) -> bool:
        if auditor_id not in self._auditors:
            return False
        self._auditors[auditor_id] = (self._auditors[auditor_id][0], key_digest)
        return True

    async def remove(self, auditor_id: str) -> bool:
        return self._auditors.pop(auditor_id, None) is not None

    async def listed(self) -> list[Auditor]:
        return [self._auditors[k][0] for k in sorted(self._auditors)]


class MemoryAuditTrail:
    """The ``AuditTrail`` port and the ``AuditCounts`` port over one list of entries."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._entries: list[tuple[float, AuditEntry]] = []
        self._rolled_through = 0
        self._days: Counter[tuple[int, _Key]] = Counter()

    async def append(self, entry: AuditEntry) -> None:
        self._entries.append((self._clock(), entry))

    @staticmethod
    def _key(entry: AuditEntry) -> _Key:
        facts = tuple(sorted(entry.facts.items()))
        return (entry.actor_kind, entry.actor, entry.action, entry.outcome, facts)

    async def count(self, period: Period, actions: Sequence[str]) -> list[CountedGroup]:
        counts: Counter[_Key] = Counter()
        for (day, key), n in self._days.items():
            if period.first_day <= day <= period.last_day and key[2] in actions:
                counts[key] += n
        for at, entry in self._entries[self._rolled_through :]:
            if period.starts_at <= at < period.ends_before and entry.action in actions:
                counts[self._key(entry)] += 1
        return [CountedGroup(k[0], k[1], k[2], k[3], dict(k[4]), n) for k, n in counts.items()]

    async def roll_up(self, now: float) -> int:
        fresh = self._entries[self._rolled_through :]
        for at, entry in fresh:
            self._days[(day_of(at), self._key(entry))] += 1
        self._rolled_through = len(self._entries)
        return len(fresh)
