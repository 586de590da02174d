"""The database's readiness to write, for the readiness probe: one small row per process,
rewritten on every probe, in a table of its own (``deployment_readiness``).

Reading (``SELECT 1``) can still succeed on a database whose disk is full; only a write
tells whether requests that store something will work.
"""

from __future__ import annotations

import os
import socket
from typing import cast

from sqlalchemy import Float, String, Table, delete, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.base import Base

#: Rows of processes that stopped probing are removed after this long.
STALE_AFTER = 3600.0


class ReadinessRow(Base):
    __tablename__ = "deployment_readiness"

    node: Mapped[str] = mapped_column(String(200), primary_key=True)
    checked_at: Mapped[float] = mapped_column(Float)


def _node() -> str:
    return f"{socket.gethostname()[:150]}:{os.getpid()}"


async def probe_write(engine: AsyncEngine, now: float) -> None:
    """Write this process's probe row in one transaction; raises what the database raised."""
    node = _node()
    table = cast(Table, ReadinessRow.__table__)
    async with engine.begin() as connection:
        changed = await connection.execute(
            update(table).where(table.c.node == node).values(checked_at=now)
        )
        if changed.rowcount == 0:
            await connection.execute(table.insert().values(node=node, checked_at=now))
        await connection.execute(delete(table).where(table.c.checked_at < now - STALE_AFTER))
