"""SQL implementations of the oversight ports (SQLite and PostgreSQL alike).

Counting never scans the whole trail: a roll-up keeps daily counts per group (actor kind,
actor, action, outcome, facts), and a read sums the days of its period and counts only the
entries not rolled up yet, in one statement, so it sees one snapshot: an entry is counted
once, rolled up or not.

The roll-up: one worker at a time holds its lease (a conditional update of the state row:
the row count decides). It takes the next entries by ``id`` in batches, each batch one
transaction that adds its counts, moves the cursor and renews the lease, checking the
lease is still its own. An append gets its id when it inserts and commits later, so a
batch may pass over an id whose entry is not committed yet: the ids missing below the
cursor are kept as gaps, counted by every read and looked at again by every pass until
their entry arrives (then rolled up) or ``GAP_HORIZON`` has passed (an append that was
rolled back, or a sequence that skipped ids, leaves a gap that never fills).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.audit.trail import FactValue
from oversight.domain import Auditor, CountedGroup, Period, day_of
from oversight.storage.tables import AuditorRow, RollupGapRow, RollupStateRow

#: Entries one roll-up transaction takes.
BATCH = 50_000
#: Seconds a roll-up lease lasts unless renewed (each batch renews it).
LEASE_SECONDS = 300.0
#: Seconds a gap in the ids is waited for before it is taken to be a rolled-back append.
GAP_HORIZON = 3600.0
_STATE_ID = 1

Group = tuple[str, str, str, str, str]  # actor kind, actor, action, outcome, facts (JSON)


def group_hash(group: Group) -> str:
    return hashlib.sha256(json.dumps(list(group), separators=(",", ":")).encode()).hexdigest()


def decode_facts(facts: str) -> dict[str, FactValue]:
    loaded = json.loads(facts)
    if not isinstance(loaded, dict):
        return {}
    return {
        str(key): tuple(str(v) for v in value) if isinstance(value, list) else value
        for key, value in loaded.items()
        if isinstance(value, (str, int, list))
    }


class SqlAuditors:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def register(self, auditor: Auditor, key_digest: str) -> bool:
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    insert(AuditorRow).values(
                        auditor_id=auditor.auditor_id,
                        name=auditor.name,
                        key_digest=key_digest,
                        registered_at=auditor.registered_at,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def by_key_digest(self, key_digest: str) -> Auditor | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(AuditorRow.auditor_id, AuditorRow.name, AuditorRow.registered_at).where(
                        AuditorRow.key_digest == key_digest
                    )
                )
            ).first()
        return None if row is None else Auditor(row[0], row[1], row[2])

    async def replace_key(self, auditor_id: str, key_digest: str) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(AuditorRow)
                .where(AuditorRow.auditor_id == auditor_id)
                .values(key_digest=key_digest)
            )
        return bool(result.rowcount)

    async def remove(self, auditor_id: str) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                delete(AuditorRow).where(AuditorRow.auditor_id == auditor_id)
            )
        return bool(result.rowcount)

    async def listed(self) -> list[Auditor]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(AuditorRow.auditor_id, AuditorRow.name, AuditorRow.registered_at).order_by(
                    AuditorRow.auditor_id
                )
            )
            return [Auditor(r[0], r[1], r[2]) for r in rows]


_GROUP_COLUMNS = "actor_kind, actor, action, outcome, facts"

# Constant SQL: the f-strings below join only this module's column names.
_COUNT = text(
    f"""
    SELECT {_GROUP_COLUMNS}, SUM(n) FROM (
      SELECT {_GROUP_COLUMNS}, SUM(count) AS n FROM oversight_rollup
       WHERE day >= :first_day AND day <= :last_day AND action IN :actions
       GROUP BY {_GROUP_COLUMNS}
      UNION ALL
      SELECT {_GROUP_COLUMNS}, COUNT(*) AS n FROM audit_entries
       WHERE id > :seen_cursor
         AND id > COALESCE((SELECT rolled_through FROM oversight_rollup_state WHERE id = 1), 0)
         AND at >= :starts_at AND at < :ends_before AND action IN :actions
       GROUP BY {_GROUP_COLUMNS}
      UNION ALL
      SELECT {_GROUP_COLUMNS}, COUNT(*) AS n FROM audit_entries
       WHERE EXISTS (SELECT 1 FROM oversight_rollup_gaps g
                      WHERE audit_entries.id >= g.first_id AND audit_entries.id <= g.last_id)
         AND at >= :starts_at AND at < :ends_before AND action IN :actions
       GROUP BY {_GROUP_COLUMNS}
    ) counted
    GROUP BY {_GROUP_COLUMNS}
    """  # noqa: S608
).bindparams(bindparam("actions", expanding=True))

_UPSERT = text(
    f"""
    INSERT INTO oversight_rollup (day, group_hash, {_GROUP_COLUMNS}, count)
    VALUES (:day, :group_hash, :actor_kind, :actor, :action, :outcome, :facts, :count)
    ON CONFLICT (day, group_hash) DO UPDATE SET count = oversight_rollup.count + excluded.count
    """  # noqa: S608
)


def _day_expression(engine: AsyncEngine) -> str:
    """The UTC day number of ``at`` in SQL (PostgreSQL rounds a cast; SQLite truncates)."""
    if engine.dialect.name == "postgresql":
        return "CAST(floor(at / 86400) AS INTEGER)"
    return "CAST(at / 86400 AS INTEGER)"


def missing_ranges(after: int, through: int, present: Iterable[int]) -> list[tuple[int, int]]:
    """The ranges of ids in ``(after, through]`` that ``present`` (sorted) lacks."""
    ranges: list[tuple[int, int]] = []
    expected = after + 1
    for found in present:
        if found > expected:
            ranges.append((expected, found - 1))
        expected = found + 1
    if expected <= through:
        ranges.append((expected, through))
    return ranges


class LeaseLost(Exception):
    """Another worker holds the roll-up now (this one's lease ran out): its batch is undone."""


class SqlAuditCounts:
    def __init__(self, engine: AsyncEngine, *, batch: int = BATCH) -> None:
        self._engine = engine
        self._batch = batch
        self._day = _day_expression(engine)

    async def count(self, period: Period, actions: Sequence[str]) -> list[CountedGroup]:
        async with self._engine.connect() as connection:
            # The cursor as last seen lets the index on id bound the tail; the statement
            # itself reads the cursor again, in its own snapshot, for the exact bound.
            seen = await self._cursor(connection)
            rows = await connection.execute(
                _COUNT,
                {
                    "first_day": period.first_day,
                    "last_day": period.last_day,
                    "starts_at": period.starts_at,
                    "ends_before": period.ends_before,
                    "seen_cursor": seen,
                    "actions": list(actions),
                },
            )
            return [
                CountedGroup(
                    actor_kind=r[0],
                    actor=r[1],
                    action=r[2],
                    outcome=r[3],
                    facts=decode_facts(r[4]),
                    count=int(r[5]),
                )
                for r in rows
            ]

    async def _cursor(self, connection: AsyncConnection) -> int:
        value = (
            await connection.execute(
                select(RollupStateRow.rolled_through).where(RollupStateRow.id == _STATE_ID)
            )
        ).scalar()
        return int(value or 0)

    async def roll_up(self, now: float) -> int:
        holder = secrets.token_hex(16)
        if not await self._take_lease(holder, now):
            return 0
        rolled = 0
        try:
            rolled += await self._fill_gaps(holder, now)
            while True:
                added, more = await self._next_batch(holder, now)
                rolled += added
                if not more:
                    break
        except LeaseLost:
            return rolled
        finally:
            async with self._engine.begin() as connection:
                await connection.execute(
                    update(RollupStateRow)
                    .where(RollupStateRow.id == _STATE_ID, RollupStateRow.holder == holder)
                    .values(holder=None, lease_until=0.0)
                )
        return rolled

    async def _take_lease(self, holder: str, now: float) -> bool:
        async with self._engine.begin() as connection:
            exists = (
                await connection.execute(
                    select(RollupStateRow.id).where(RollupStateRow.id == _STATE_ID)
                )
            ).first()
        if exists is None:
            try:
                async with self._engine.begin() as connection:
                    await connection.execute(
                        insert(RollupStateRow).values(
                            id=_STATE_ID, rolled_through=0, holder=None, lease_until=0.0
                        )
                    )
            except IntegrityError:
                pass  # another worker made it at the same moment
        async with self._engine.begin() as connection:
            taken = await connection.execute(
                update(RollupStateRow)
                .where(
                    RollupStateRow.id == _STATE_ID,
                    (RollupStateRow.holder.is_(None)) | (RollupStateRow.lease_until < now),
                )
                .values(holder=holder, lease_until=now + LEASE_SECONDS)
            )
        return bool(taken.rowcount)

    async def _renew(self, connection: AsyncConnection, holder: str, now: float) -> None:
        """First statement of every batch: the lease renewed (and the state row locked
        until the batch commits), or ``LeaseLost``."""
        renewed = await connection.execute(
            update(RollupStateRow)
            .where(RollupStateRow.id == _STATE_ID, RollupStateRow.holder == holder)
            .values(lease_until=now + LEASE_SECONDS)
        )
        if not renewed.rowcount:
            raise LeaseLost

    async def _add(self, connection: AsyncConnection, counts: Counter[tuple[int, Group]]) -> None:
        if not counts:
            return
        await connection.execute(
            _UPSERT,
            [
                {
                    "day": day,
                    "group_hash": group_hash(group),
                    "actor_kind": group[0],
                    "actor": group[1],
                    "action": group[2],
                    "outcome": group[3],
                    "facts": group[4],
                    "count": count,
                }
                for (day, group), count in counts.items()
            ],
        )

    async def _next_batch(self, holder: str, now: float) -> tuple[int, bool]:
        """One batch rolled up: (entries added, whether more may follow)."""
        async with self._engine.begin() as connection:
            await self._renew(connection, holder, now)
            cursor = await self._cursor(connection)
            window = (
                await connection.execute(
                    text(
                        "SELECT COUNT(*), MAX(id) FROM (SELECT id FROM audit_entries"
                        " WHERE id > :cursor ORDER BY id LIMIT :batch) next_ids"
                    ),
                    {"cursor": cursor, "batch": self._batch},
                )
            ).one()
            found, through = int(window[0]), window[1]
            if not found:
                return 0, False
            gaps: list[tuple[int, int]] = []
            if found != through - cursor:  # some id between has no committed entry
                present = await connection.execute(
                    text(
                        "SELECT id FROM audit_entries WHERE id > :cursor AND id <= :through"
                        " ORDER BY id"
                    ),
                    {"cursor": cursor, "through": through},
                )
                gaps = missing_ranges(cursor, through, (r[0] for r in present))
            grouped = await connection.execute(
                text(
                    f"SELECT {self._day} AS day, {_GROUP_COLUMNS}, COUNT(*) FROM audit_entries"  # noqa: S608
                    f" WHERE id > :cursor AND id <= :through GROUP BY {self._day},"
                    f" {_GROUP_COLUMNS}"
                ),
                {"cursor": cursor, "through": through},
            )
            counts: Counter[tuple[int, Group]] = Counter()
            for row in grouped:
                counts[(int(row[0]), (row[1], row[2], row[3], row[4], row[5]))] += int(row[6])
            await self._add(connection, counts)
            if gaps:
                await connection.execute(
                    insert(RollupGapRow),
                    [{"first_id": a, "last_id": b, "noticed_at": now} for a, b in gaps],
                )
            await connection.execute(
                update(RollupStateRow)
                .where(RollupStateRow.id == _STATE_ID)
                .values(rolled_through=through)
            )
        return found, found == self._batch

    async def _fill_gaps(self, holder: str, now: float) -> int:
        """The entries that arrived in the gaps rolled up; gaps that stayed empty past
        ``GAP_HORIZON`` given up."""
        async with self._engine.begin() as connection:
            await self._renew(connection, holder, now)
            ranges = (
                await connection.execute(
                    select(RollupGapRow.first_id, RollupGapRow.last_id, RollupGapRow.noticed_at)
                )
            ).all()
            if not ranges:
                return 0
            arrived = (
                await connection.execute(
                    text(
                        f"SELECT id, at, {_GROUP_COLUMNS} FROM audit_entries WHERE EXISTS"  # noqa: S608
                        " (SELECT 1 FROM oversight_rollup_gaps g WHERE audit_entries.id >="
                        " g.first_id AND audit_entries.id <= g.last_id) ORDER BY id"
                    )
                )
            ).all()
            if not arrived and all(noticed >= now - GAP_HORIZON for _, _, noticed in ranges):
                return 0
            counts: Counter[tuple[int, Group]] = Counter()
            for row in arrived:
                counts[(day_of(row[1]), (row[2], row[3], row[4], row[5], row[6]))] += 1
            await self._add(connection, counts)
            ids = [int(row[0]) for row in arrived]
            still: list[dict[str, Any]] = []
            for first, last, noticed in ranges:
                if noticed < now - GAP_HORIZON:
                    continue
                inside = [i for i in ids if first <= i <= last]
                still += [
                    {"first_id": a, "last_id": b, "noticed_at": noticed}
                    for a, b in missing_ranges(first - 1, last, inside)
                ]
            await connection.execute(delete(RollupGapRow))
            if still:
                await connection.execute(insert(RollupGapRow), still)
        return len(ids)
