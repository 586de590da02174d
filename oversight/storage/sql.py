"""SQL implementations of the oversight ports (SQLite and PostgreSQL alike).

Counting never scans the whole trail: a roll-up keeps daily counts per group (actor kind,
actor, action, outcome, facts: ``oversight_groups``), made in SQL from the entries
(``INSERT … SELECT … GROUP BY``, nothing per entry in Python), and a read sums the days of
its period and counts only the entries not rolled up yet, in one statement, so it sees one
snapshot: an entry is counted once, rolled up or not.

The roll-up: one worker at a time holds its lease (a conditional update of the state row:
the row count decides). It takes the next entries by ``id`` in batches, each batch one
transaction that adds its counts, moves the cursor and renews the lease, checking the
lease is still its own; a pass takes ``MAX_BATCHES`` at most, so a backlog is caught up
over several passes and no pass outlasts its lease. An append gets its id when it
inserts and commits later, so a batch may pass over an id whose entry is not committed
yet. Every statement of a batch reads one snapshot (on PostgreSQL the batch runs at
REPEATABLE READ; on SQLite its first statement takes the write lock, so nothing commits
until it ends): an entry that commits while the batch runs is either seen by all of its
statements or by none, never counted by the batch and kept as a gap as well. The ids
missing below the cursor are kept as gaps, counted by every read and looked
at again by every pass until their entry arrives (then rolled up) or ``GAP_HORIZON`` has
passed (an append that was rolled back, or a sequence that skipped ids, leaves a gap that
never fills).
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import TextClause, bindparam, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.audit.trail import FactValue
from oversight.domain import Auditor, CountedGroup, Period
from oversight.storage.tables import AuditorRow, RollupGapRow, RollupStateRow

#: Entries one roll-up transaction takes.
BATCH = 50_000
#: Batches one pass takes at most (a backlog is caught up over several minutes' passes),
#: so that a pass ends well within its lease.
MAX_BATCHES = 40
#: Seconds a roll-up lease lasts unless renewed (each batch renews it).
LEASE_SECONDS = 300.0
#: Seconds a gap in the ids is waited for before it is taken to be a rolled-back append.
GAP_HORIZON = 3600.0
_STATE_ID = 1
#: PostgreSQL's SQLSTATE for a REPEATABLE READ transaction that met a concurrent update.
SERIALIZATION_FAILURE = "40001"

Group = tuple[str, str, str, str, str]  # actor kind, actor, action, outcome, facts (JSON)


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
_SAME_GROUP = (
    "g.actor_kind = e.actor_kind AND g.actor = e.actor AND g.action = e.action"
    " AND g.outcome = e.outcome AND g.facts = e.facts"
)
#: Entries not rolled up yet: beyond the cursor, or in a gap below it.
_BEYOND_CURSOR = (
    "e.id > :seen_cursor"
    " AND e.id > COALESCE((SELECT rolled_through FROM oversight_rollup_state WHERE id = 1), 0)"
)

# Constant SQL: the f-strings below join only this module's names and clauses. One
# statement, one snapshot: the rolled-up days, the entries beyond the cursor, those in gaps.
# The entries are found by id (``+e.at``: never through the index on their time, which
# for a year would be every entry of the year).
_COUNT = text(
    f"""
    SELECT g.actor_kind, g.actor, g.action, g.outcome, g.facts, r.n
      FROM (SELECT group_id, SUM(count) AS n FROM oversight_rollup
             WHERE day >= :first_day AND day <= :last_day GROUP BY group_id) r
      JOIN oversight_groups g ON g.group_id = r.group_id
     WHERE g.action IN :actions
    UNION ALL
    SELECT {_GROUP_COLUMNS}, COUNT(*) FROM audit_entries e
     WHERE {_BEYOND_CURSOR}
       AND +e.at >= :starts_at AND +e.at < :ends_before AND e.action IN :actions
     GROUP BY {_GROUP_COLUMNS}
    UNION ALL
    SELECT {_GROUP_COLUMNS}, COUNT(*) FROM audit_entries e
     WHERE e.id >= COALESCE((SELECT MIN(first_id) FROM oversight_rollup_gaps), 0)
       AND e.id <= COALESCE((SELECT MAX(last_id) FROM oversight_rollup_gaps), -1)
       AND (SELECT COUNT(*) FROM oversight_rollup_gaps gap
             WHERE e.id >= gap.first_id AND e.id <= gap.last_id) > 0
       AND +e.at >= :starts_at AND +e.at < :ends_before AND e.action IN :actions
     GROUP BY {_GROUP_COLUMNS}
    """  # noqa: S608
).bindparams(bindparam("actions", expanding=True))


def _rolling(day: str, entries: str) -> tuple[TextClause, TextClause]:
    """The two statements that roll up the entries ``entries`` (a condition on ``e``)
    selects: the groups not seen before added, then each day's count per group added to
    the roll-up."""
    new_groups = text(
        f"""
        INSERT INTO oversight_groups ({_GROUP_COLUMNS})
        SELECT DISTINCT {_GROUP_COLUMNS} FROM audit_entries e
         WHERE {entries}
           AND NOT EXISTS (SELECT 1 FROM oversight_groups g WHERE {_SAME_GROUP})
        """  # noqa: S608
    )
    counts = text(
        f"""
        INSERT INTO oversight_rollup (day, group_id, count)
        SELECT {day}, g.group_id, COUNT(*) FROM audit_entries e
          JOIN oversight_groups g ON {_SAME_GROUP}
         WHERE {entries}
         GROUP BY {day}, g.group_id
        ON CONFLICT (day, group_id) DO UPDATE SET count = oversight_rollup.count + excluded.count
        """  # noqa: S608
    )
    return new_groups, counts


def _day_expression(engine: AsyncEngine) -> str:
    """The UTC day number of an entry in SQL (PostgreSQL rounds a cast; SQLite truncates)."""
    if engine.dialect.name == "postgresql":
        return "CAST(floor(e.at / 86400) AS INTEGER)"
    return "CAST(e.at / 86400 AS INTEGER)"


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
        #: The running pass's ``now`` and when it started (monotonic seconds).
        self._pass_started = (0.0, time.monotonic())
        # a batch's statements share one snapshot (the module docstring says why)
        self._snapshot_engine = (
            engine.execution_options(isolation_level="REPEATABLE READ")
            if engine.dialect.name == "postgresql"
            else engine
        )
        self._batch = batch
        day = _day_expression(engine)
        self._batch_statements = _rolling(day, "e.id > :cursor AND e.id <= :through")
        # the entries found in the gaps, by id: one committing meanwhile waits for the next pass
        self._gap_statements = tuple(
            statement.bindparams(bindparam("ids", expanding=True))
            for statement in _rolling(day, "e.id IN :ids")
        )

    async def count(self, period: Period, actions: Sequence[str]) -> list[CountedGroup]:
        async with self._engine.connect() as connection:
            if self._engine.dialect.name == "postgresql":
                # its estimate of a read through a gap range (it cannot know how few ids a
                # gap holds) is high enough for the JIT compiler, which costs more than the read
                await connection.execute(text("SET LOCAL jit = off"))
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
            merged: Counter[Group] = Counter()
            for r in rows:
                merged[(r[0], r[1], r[2], r[3], r[4])] += int(r[5])
        return [
            CountedGroup(
                actor_kind=group[0],
                actor=group[1],
                action=group[2],
                outcome=group[3],
                facts=decode_facts(group[4]),
                count=count,
            )
            for group, count in merged.items()
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
        self._pass_started = (now, time.monotonic())
        # Cancelled (the worker stopping), the pass leaves its lease to run out: nothing
        # more is asked of the database on the way out.
        rolled = 0
        try:
            rolled += await self._fill_gaps(holder, now)
            for _ in range(MAX_BATCHES):
                added, more = await self._next_batch(holder, now)
                rolled += added
                if not more:
                    break
        except LeaseLost:
            return rolled
        except Exception:
            await self._release(holder)
            raise
        await self._release(holder)
        return rolled

    async def _release(self, holder: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(RollupStateRow)
                .where(RollupStateRow.id == _STATE_ID, RollupStateRow.holder == holder)
                .values(holder=None, lease_until=0.0)
            )

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
        """First statement of every batch: the lease renewed from this moment (the pass's
        ``now`` and the time it has taken so far), the state row locked until the batch
        commits; or ``LeaseLost``."""
        started, monotonic_start = self._pass_started
        renewed = await connection.execute(
            update(RollupStateRow)
            .where(RollupStateRow.id == _STATE_ID, RollupStateRow.holder == holder)
            .values(lease_until=started + (time.monotonic() - monotonic_start) + LEASE_SECONDS)
        )
        if not renewed.rowcount:
            raise LeaseLost

    async def _next_batch(self, holder: str, now: float) -> tuple[int, bool]:
        """One batch rolled up: (entries added, whether more may follow). A concurrent
        update of the state row (another worker took over) is a lost lease."""
        try:
            return await self._batch_in_snapshot(holder, now)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == SERIALIZATION_FAILURE:
                raise LeaseLost from exc
            raise

    async def _batch_in_snapshot(self, holder: str, now: float) -> tuple[int, bool]:
        async with self._snapshot_engine.begin() as connection:
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
            for statement in self._batch_statements:
                await connection.execute(statement, {"cursor": cursor, "through": through})
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
                        "SELECT e.id FROM oversight_rollup_gaps gap CROSS JOIN audit_entries e"
                        " WHERE e.id >= gap.first_id AND e.id <= gap.last_id ORDER BY e.id"
                    )
                )
            ).all()
            if not arrived and all(noticed >= now - GAP_HORIZON for _, _, noticed in ranges):
                return 0
            ids = [int(row[0]) for row in arrived]
            if ids:
                for statement in self._gap_statements:
                    await connection.execute(statement, {"ids": ids})
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
