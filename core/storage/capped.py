"""Inserts that keep pending state bounded: the row goes in only while fewer than ``cap``
rows match a condition (live challenges, an account's unfinished flows, a counter's open
requests), in one statement. Counting stops at ``cap`` (``LIMIT``), so the check costs no
more than the state it bounds; two inserts racing at the cap may both go in, which keeps
the bound within the number of concurrent requests.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Insert, Table, func, literal, select


def capped_insert(
    table: Table, values: dict[str, Any], *, counted: ColumnElement[bool], cap: int
) -> Insert:
    """``INSERT … SELECT values WHERE (rows matching ``counted``, up to ``cap``) < cap``;
    its row count says whether the row went in."""
    matching = select(literal(1)).select_from(table).where(counted).limit(cap).subquery()
    room = select(func.count()).select_from(matching).scalar_subquery() < cap
    columns = list(values)
    row = select(*(literal(values[name], table.c[name].type) for name in columns)).where(room)
    return table.insert().from_select(columns, row)
