"""One process of the chainer race (``tests/core/audit/test_chainer_processes.py``):
appends ``count`` entries to the trail at ``url``, chaining after each (no heads)."""

from __future__ import annotations

import asyncio
import sys
import time

from core.audit.trail import AuditEntry
from core.storage.audit_chain import SqlAuditChain
from core.storage.audit_trail import SqlAuditTrail
from core.storage.engine import create_engine, session_factory


async def main(url: str, count: int, name: str) -> None:
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        trail, chain = SqlAuditTrail(sessions, time.time), SqlAuditChain(sessions, time.time)
        for i in range(count):
            await trail.append(AuditEntry("deployment", name, "race.appended", facts={"i": i}))
            await chain.seal()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
