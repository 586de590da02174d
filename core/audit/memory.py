"""The memory implementation of the audit trail (``AuditTrail`` and ``ChainedTrail``) for
unit tests and single-process tools; the same contract as the SQL one."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable

from core.audit.chain import (
    GENESIS,
    ChainedEntry,
    SignedHead,
    UnchainedEntry,
    canonical_facts,
    link,
    sign_head,
)
from core.audit.store import ChainSnapshot, HeadPolicy, Sealed
from core.audit.trail import AuditEntry


class MemoryAuditTrail:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._appended: list[UnchainedEntry] = []
        self._chain: list[ChainedEntry] = []
        self._heads: list[SignedHead] = []
        #: The place the chain continues from after retention removed everything.
        self._base = (0, GENESIS)

    async def append(self, entry: AuditEntry) -> None:
        self._appended.append(
            UnchainedEntry(
                at=self._clock(),
                actor_kind=entry.actor_kind,
                actor=entry.actor,
                action=entry.action,
                outcome=entry.outcome,
                facts=canonical_facts(entry.facts),
                subject_key=entry.subject_key,
            )
        )

    @property
    def appended(self) -> list[AuditEntry]:
        """Every entry appended, chained or not (what tests look at)."""
        return [
            AuditEntry(e.actor_kind, e.actor, e.action, e.outcome, _facts(e.facts), e.subject_key)
            for e in [*self._chain_as_unchained(), *self._appended]
        ]

    def _chain_as_unchained(self) -> list[UnchainedEntry]:
        return [
            UnchainedEntry(e.at, e.actor_kind, e.actor, e.action, e.outcome, e.facts, e.subject_key)
            for e in self._chain
        ]

    def _tail(self) -> tuple[int, str]:
        if self._chain:
            return self._chain[-1].position, self._chain[-1].entry_hash
        return self._base

    async def seal(self, heads: HeadPolicy | None = None, *, force: bool = False) -> Sealed:
        position, previous = self._tail()
        chained = 0
        for entry in self._appended:
            position += 1
            linked = link(entry, position, previous)
            self._chain.append(linked)
            previous = linked.entry_hash
            chained += 1
        self._appended = []
        head = None
        now = self._clock()
        last = self._heads[-1] if self._heads else None
        due = last is None or force or now - last.at >= (heads.interval if heads else 0)
        if heads is not None and position > (last.position if last else 0) and due:
            head = sign_head(
                await heads.signer(),
                position=position,
                entry_hash=previous,
                at=now,
                issuer=heads.issuer,
            )
            self._heads.append(head)
        return Sealed(chained, head)

    async def read_entries(self, after: int, limit: int) -> list[ChainedEntry]:
        return [e for e in self._chain if e.position > after][:limit]

    async def read_heads(self, after: int = 0, limit: int | None = None) -> list[SignedHead]:
        heads = [h for h in self._heads if h.position > after]
        return heads if limit is None else heads[:limit]

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[ChainSnapshot]:
        yield _MemorySnapshot(list(self._chain), list(self._heads))

    async def prune(self, cutoff: float) -> int:
        older = [h for h in self._heads if h.at < cutoff]
        if not older:
            return 0
        anchor = older[-1]
        before = len(self._chain)
        self._chain = [e for e in self._chain if e.position > anchor.position]
        self._heads = [h for h in self._heads if h.position >= anchor.position]
        if not self._chain:
            self._base = (anchor.position, anchor.entry_hash)
        return before - len(self._chain)


class _MemorySnapshot:
    def __init__(self, chain: list[ChainedEntry], heads: list[SignedHead]) -> None:
        self._chain = chain
        self._heads = heads

    async def read_entries(self, after: int, limit: int) -> list[ChainedEntry]:
        return [e for e in self._chain if e.position > after][:limit]

    async def read_heads(self, after: int = 0, limit: int | None = None) -> list[SignedHead]:
        heads = [h for h in self._heads if h.position > after]
        return heads if limit is None else heads[:limit]

    async def last_head(self) -> SignedHead | None:
        return self._heads[-1] if self._heads else None


def _facts(text: str) -> dict[str, str | int | tuple[str, ...]]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(text).items()}
