"""What the deployment does with its audit trail beyond appending: chain what was
appended, sign the head now and then, read the chain back (verification, export) and
forget whole signed stretches past their retention (``core.audit.chain`` says how).

Implementations: ``core.storage.audit_chain.SqlAuditChain`` (one chainer at a time across
every worker and process) and ``core.audit.memory.MemoryAuditTrail``; both pass
``tests/core/audit/test_trail_contract.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from core.audit.chain import ChainedEntry, SignedHead
from core.keys.signer import Signer

#: Gives the deployment's audit signer, asked for only when a head is to be signed.
HeadSigner = Callable[[], Awaitable[Signer]]


@dataclass(frozen=True, slots=True)
class HeadPolicy:
    """Who signs heads and how often: a head at most every ``interval`` seconds, over
    whatever was chained since the last one (``force``: now, whatever the interval)."""

    signer: HeadSigner
    issuer: str
    interval: float = 60.0


@dataclass(frozen=True, slots=True)
class Sealed:
    #: Entries given their place in the chain by this call.
    chained: int
    #: The head signed by this call, if one was due.
    head: SignedHead | None
    #: False when another chainer was at work (nothing done here, it does it).
    ran: bool = True


class ChainSnapshot(Protocol):
    """Reads of the chain that all see it as it was at the first of them."""

    async def read_entries(self, after: int, limit: int) -> list[ChainedEntry]:
        """Chained entries of positions above ``after``, in position order."""
        ...

    async def read_heads(self, after: int = 0, limit: int | None = None) -> list[SignedHead]:
        """Heads of positions above ``after``, in position order."""
        ...

    async def last_head(self) -> SignedHead | None:
        """The head of the highest position."""
        ...


class ChainedTrail(Protocol):
    async def seal(self, heads: HeadPolicy | None = None, *, force: bool = False) -> Sealed:
        """Chains the entries appended so far and signs a head where one is due."""
        ...

    async def read_entries(self, after: int, limit: int) -> list[ChainedEntry]:
        """Chained entries of positions above ``after``, in position order."""
        ...

    async def read_heads(self, after: int = 0, limit: int | None = None) -> list[SignedHead]:
        """Stored heads of positions above ``after``, in position order."""
        ...

    def snapshot(self) -> AbstractAsyncContextManager[ChainSnapshot]:
        """Reads of one state of the chain (a verification or an export, while retention
        and the chainer go on)."""
        ...

    async def prune(self, cutoff: float) -> int:
        """Removes the entries covered by the last head signed before ``cutoff`` (and
        the heads before it): the number of entries removed. The chain holds at every
        commit of the way."""
        ...
