"""SQL implementation of ``core.replay.SeenOnce``: values that may be used once, in one
table (``single_use_values``) keyed by scope and the SHA-256 of the value (the value itself,
a proof identifier, is never stored).

``first_use`` is one ``INSERT … ON CONFLICT`` statement: however many workers race with the
same value, the primary key lets exactly one row in, and its row count says which worker
saw the value first. A row whose ``keep_until`` has passed may be taken over by the same
statement (``DO UPDATE … WHERE keep_until <= now``), so a value is remembered for exactly
as long as asked even before housekeeping deletes it. Works on SQLite (3.24 or newer) and
PostgreSQL. The statement is built once; on PostgreSQL it goes to the driver directly
(one round trip, prepared once per connection, no transaction around it), as the
issuance hot path does: it runs for every attestation PoP and DPoP proof.

A storage that makes a change some single-use values authorize (``core.replay.SingleUse``)
uses them up in the same statement on PostgreSQL (``pg_first_uses``, a ``WITH`` member
whose ``RETURNING`` says which were first) or in the same transaction elsewhere
(``first_uses_in``): the same row rules, the same race, one round trip less.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from functools import cache
from typing import Any, cast

from sqlalchemy import Float, String, Table, bindparam, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import SYSTEM_CLOCK, Clock
from core.replay import SingleUse, UsedBefore
from core.storage.base import Base
from core.storage.driver import changed_rows, is_postgresql, postgres_connection

MAX_SCOPE_LENGTH = 32


class SingleUseRow(Base):
    __tablename__ = "single_use_values"

    scope: Mapped[str] = mapped_column(String(MAX_SCOPE_LENGTH), primary_key=True)
    value_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    keep_until: Mapped[float] = mapped_column(Float, index=True)


_TABLE = cast(Table, SingleUseRow.__table__)


@cache
def _first_use_statement(dialect: str) -> Any:
    insert: Any = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(_TABLE).values(
        scope=bindparam("scope"), value_hash=bindparam("hash"), keep_until=bindparam("until")
    )
    return statement.on_conflict_do_update(
        index_elements=[_TABLE.c.scope, _TABLE.c.value_hash],
        set_={"keep_until": statement.excluded.keep_until},
        where=_TABLE.c.keep_until <= bindparam("now"),
    )


#: The same statement in the PostgreSQL driver's terms.
FIRST_USE = (
    "INSERT INTO single_use_values (scope, value_hash, keep_until) VALUES ($1, $2, $3)"
    " ON CONFLICT (scope, value_hash) DO UPDATE SET keep_until = EXCLUDED.keep_until"
    " WHERE single_use_values.keep_until <= $4"
)


def value_hash(value: str) -> str:
    """Hex SHA-256 of the value's UTF-8 bytes: what the table keeps instead of the value."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _checked(scope: str, keep_until: float) -> None:
    if not scope or len(scope) > MAX_SCOPE_LENGTH:
        raise ValueError(f"a scope has 1 to {MAX_SCOPE_LENGTH} characters")
    if not math.isfinite(keep_until):
        raise ValueError("keep_until must be a time")


@cache
def pg_first_uses(count: int, first: int, now: int) -> str:
    """``FIRST_USE`` of ``count`` values in one statement, to be a ``WITH`` member of the
    statement that makes the change they authorize: each value takes three parameters
    from ``$first`` on (``first_use_parameters``), ``$now`` is the time; it returns the
    ``value_hash`` of each value seen first (``used_before`` names any other)."""
    rows = ", ".join(
        f"(${first + 3 * i}, ${first + 3 * i + 1}, ${first + 3 * i + 2})" for i in range(count)
    )
    return (
        f"INSERT INTO single_use_values (scope, value_hash, keep_until) VALUES {rows}"  # noqa: S608
        " ON CONFLICT (scope, value_hash) DO UPDATE SET keep_until = EXCLUDED.keep_until"
        f" WHERE single_use_values.keep_until <= ${now} RETURNING value_hash"
    )


def first_use_parameters(values: Sequence[SingleUse]) -> list[str | float]:
    """The parameters of ``pg_first_uses`` for ``values`` (each value once: a value sent
    twice in one request is used before by its second use)."""
    parameters: list[str | float] = []
    seen: set[tuple[str, str]] = set()
    for single_use in values:
        _checked(single_use.scope, single_use.keep_until)
        hashed = value_hash(single_use.value)
        if (single_use.scope, hashed) in seen:
            raise UsedBefore(single_use)
        seen.add((single_use.scope, hashed))
        parameters += [single_use.scope, hashed, float(single_use.keep_until)]
    return parameters


def used_before(values: Sequence[SingleUse], first: Sequence[str]) -> SingleUse | None:
    """The first of ``values`` whose hash is not among the ``first`` ones a
    ``pg_first_uses`` returned."""
    seen_first = set(first)
    for single_use in values:
        if value_hash(single_use.value) not in seen_first:
            return single_use
    return None


async def first_uses_in(
    connection: AsyncConnection, values: Sequence[SingleUse], now: float
) -> SingleUse | None:
    """Use up ``values`` in the connection's open transaction; the first one that was used
    before (the others are used up all the same, as ``pg_first_uses`` does), or None."""
    first_use_parameters(values)  # checks them, and refuses a value sent twice
    statement = _first_use_statement(connection.dialect.name)
    refused: SingleUse | None = None
    for single_use in values:
        result = await connection.execute(
            statement,
            {
                "scope": single_use.scope,
                "hash": value_hash(single_use.value),
                "until": float(single_use.keep_until),
                "now": now,
            },
        )
        if result.rowcount != 1 and refused is None:
            refused = single_use
    return refused


class SqlSingleUse:
    """``SeenOnce`` over the deployment's database; ``clock`` decides when a remembered
    value has been forgotten."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._clock = clock
        self._postgres = is_postgresql(engine)
        self._statement = _first_use_statement(engine.dialect.name)

    async def first_use(self, scope: str, value: str, keep_until: float) -> bool:
        _checked(scope, keep_until)
        hashed, until, now = value_hash(value), float(keep_until), self._clock.now()
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                status = await driver.execute(FIRST_USE, scope, hashed, until, now)
            return changed_rows(status) == 1
        async with self._engine.begin() as connection:
            result = await connection.execute(
                self._statement, {"scope": scope, "hash": hashed, "until": until, "now": now}
            )
        first: bool = result.rowcount == 1
        return first

    async def purge(self, now: float) -> int:
        """Delete the values no longer remembered (``keep_until`` passed); how many went."""
        async with self._engine.begin() as connection:
            result = await connection.execute(delete(_TABLE).where(_TABLE.c.keep_until <= now))
        return max(result.rowcount, 0)
