"""The figures of a period for an auditor: per counter, purpose and set of claims, how
often it asked, how often citizens answered, declined or failed, how often it was refused
for asking beyond its registration; per agency and credential configuration, how many
credentials were issued, revoked, suspended and reinstated. Aggregates only, small counts
suppressed (``oversight.domain.suppress``), and the read itself appended to the trail
(``oversight.viewed`` with the period) before anything is counted: a read the trail cannot
record is not answered.

What each figure counts (``core.audit.trail`` vocabulary):

- requested: ``presentation.requested``; refused: ``presentation.refused`` (the request
  went beyond the counter's registration);
- answered ok / declined / failed: ``presentation.answered`` with outcome ``ok``,
  ``access_denied`` (OpenID4VP 1.0 §8.5: the citizen said no), or any other error;
- issued, revoked, suspended, reinstated: ``credential.*`` with outcome ``ok``; the agency
  is the entry's ``agency`` fact where it has one, otherwise its actor (the agency itself,
  or its operators, who act with the agency's operator key).

Suppression counts entries, not credentials: a status change that changed a hundred
credentials is one act, suppressed like any single act. Within a counter's row, a single
suppressed answer figure takes the smallest other non-zero one with it (``suppressed_row``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.audit.trail import AuditEntry, FactValue
from core.errors import Problem
from oversight.domain import (
    COUNTED_ACTIONS,
    CREDENTIAL_ISSUED,
    CREDENTIAL_REINSTATED,
    CREDENTIAL_REVOKED,
    CREDENTIAL_SUSPENDED,
    DECLINED,
    OK,
    OVERSIGHT_VIEWED,
    PRESENTATION_ANSWERED,
    PRESENTATION_REFUSED,
    PRESENTATION_REQUESTED,
    SUPPRESSED,
    Auditor,
    CountedGroup,
    Figure,
    Period,
    PeriodError,
    suppress,
)
from oversight.services.context import OversightContext

_CREDENTIAL_COLUMNS = {
    CREDENTIAL_ISSUED: "issued",
    CREDENTIAL_REVOKED: "revoked",
    CREDENTIAL_SUSPENDED: "suspended",
    CREDENTIAL_REINSTATED: "reinstated",
}
PRESENTATION_COLUMNS = ("requested", "answered_ok", "declined", "failed", "refused")
#: Requested, then the answers it nearly adds up to (``suppressed_row``).
LINKED_PRESENTATION_COLUMNS = ("requested", "answered_ok", "declined", "failed")
CREDENTIAL_COLUMNS = tuple(_CREDENTIAL_COLUMNS.values())


@dataclass(frozen=True, slots=True)
class CounterRow:
    counter: str
    purpose: str
    claims: tuple[str, ...]
    #: by ``PRESENTATION_COLUMNS``
    figures: Mapping[str, Figure]


@dataclass(frozen=True, slots=True)
class AgencyRow:
    agency: str
    credential_configuration: str
    #: by ``CREDENTIAL_COLUMNS``
    figures: Mapping[str, Figure]


@dataclass(frozen=True, slots=True)
class Figures:
    period: Period
    min_count: int
    counters: list[CounterRow]
    agencies: list[AgencyRow]


def parse_period(context: OversightContext, first: str, last: str) -> Period:
    """The period of a request's ``from`` and ``to``; a 400 problem when it is not one."""
    try:
        return Period.parse(first, last, max_days=context.max_period_days)
    except PeriodError as exc:
        raise Problem(400, "Bad Request", str(exc)) from None


def _text(value: FactValue | None) -> str:
    return value if isinstance(value, str) else ""


def _claims(value: FactValue | None) -> tuple[str, ...]:
    if isinstance(value, tuple):
        return tuple(sorted(value))
    return (value,) if isinstance(value, str) and value else ()


def _presentation_column(group: CountedGroup) -> str:
    if group.action == PRESENTATION_REQUESTED:
        return "requested"
    if group.action == PRESENTATION_REFUSED:
        return "refused"
    if group.outcome == OK:
        return "answered_ok"
    return "declined" if group.outcome == DECLINED else "failed"


#: Exact counts of one row by column: (the figure, the number of entries it is made of).
Cells = dict[str, tuple[int, int]]


def tabulate(
    groups: Iterable[CountedGroup],
) -> tuple[dict[tuple[str, str, tuple[str, ...]], Cells], dict[tuple[str, str], Cells]]:
    """The exact counts by counter row and by agency row (before suppression), each with
    the number of entries (actions) it is made of."""
    counters: dict[tuple[str, str, tuple[str, ...]], Cells] = defaultdict(
        lambda: dict.fromkeys(PRESENTATION_COLUMNS, (0, 0))
    )
    agencies: dict[tuple[str, str], Cells] = defaultdict(
        lambda: dict.fromkeys(CREDENTIAL_COLUMNS, (0, 0))
    )
    for group in groups:
        if group.action in (PRESENTATION_REQUESTED, PRESENTATION_ANSWERED, PRESENTATION_REFUSED):
            key = (
                group.actor,
                _text(group.facts.get("purpose")),
                _claims(group.facts.get("claims")),
            )
            _add(counters[key], _presentation_column(group), group.count, group.count)
        elif group.action in _CREDENTIAL_COLUMNS and group.outcome == OK:
            agency = _text(group.facts.get("agency")) or group.actor
            configuration = _text(group.facts.get("credential_configuration"))
            # a status change says how many credentials it changed (``changed``); an
            # issuance is one credential whatever the number of copies in its batch
            changed = group.facts.get("changed", 1)
            weight = changed if isinstance(changed, int) else 1
            _add(
                agencies[(agency, configuration)],
                _CREDENTIAL_COLUMNS[group.action],
                group.count * weight,
                group.count,
            )
    return counters, agencies


def _add(cells: Cells, column: str, figure: int, entries: int) -> None:
    shown, made_of = cells[column]
    cells[column] = (shown + figure, made_of + entries)


def suppressed_row(cells: Cells, least: int, linked: tuple[str, ...] = ()) -> dict[str, Figure]:
    """The row as reported. A figure made of 1 to ``least - 1`` entries is suppressed,
    however many credentials those entries changed (one operator's one revocation of a
    whole batch is still one person's one act). ``linked``: columns one of which is nearly
    the sum of the others (requested ≈ answered + declined + failed, but for requests
    that expired): where just one of them is suppressed, the smallest other that is not
    zero is suppressed too, so the suppressed one cannot be had by subtraction."""
    row: dict[str, Figure] = {}
    for column, (figure, entries) in cells.items():
        row[column] = figure if suppress(entries, least) != SUPPRESSED else SUPPRESSED
    hidden = [c for c in linked if row[c] == SUPPRESSED]
    if len(hidden) == 1:
        answers = [c for c in linked[1:] if c not in hidden and cells[c][0] > 0]
        others = answers or [c for c in linked[:1] if cells[c][0] > 0]
        if others:
            row[min(others, key=lambda c: cells[c][0])] = SUPPRESSED
    return row


async def read_figures(context: OversightContext, auditor: Auditor, period: Period) -> Figures:
    await context.trail.append(
        AuditEntry(
            actor_kind="auditor",
            actor=auditor.auditor_id,
            action=OVERSIGHT_VIEWED,
            facts={"period": period.label(), "read": "figures"},
        )
    )
    counters, agencies = tabulate(await context.counts.count(period, COUNTED_ACTIONS))
    least = context.min_count
    return Figures(
        period=period,
        min_count=least,
        counters=[
            CounterRow(
                counter=counter,
                purpose=purpose,
                claims=claims,
                figures=suppressed_row(counts, least, LINKED_PRESENTATION_COLUMNS),
            )
            for (counter, purpose, claims), counts in sorted(counters.items())
        ],
        agencies=[
            AgencyRow(
                agency=agency,
                credential_configuration=configuration,
                figures=suppressed_row(counts, least),
            )
            for (agency, configuration), counts in sorted(agencies.items())
        ],
    )
