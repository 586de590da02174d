"""The figures use case over the in-memory ports: what each figure counts, suppression
below the threshold (zero stays zero, no totals), the period's bounds, and the read
appended to the trail before anything is counted (a read the trail cannot record is not
answered)."""

from __future__ import annotations

import datetime as dt

import pytest

from core.audit.trail import AuditEntry
from core.clock import FixedClock
from core.errors import Problem
from oversight.domain import SUPPRESSED, Auditor, Period, PeriodError, suppress
from oversight.services.context import OversightContext
from oversight.services.read_figures import parse_period, read_figures
from oversight.storage.memory import MemoryAuditors, MemoryAuditTrail
from tests.oversight.entries import AGE, MARCH_FIRST, answered, asked, credential, realistic_mix

MARCH = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
DPA = Auditor("dpa", "Data Protection Authority", 0.0)


async def _context(min_count: int = 5) -> tuple[OversightContext, MemoryAuditTrail]:
    clock = FixedClock(MARCH_FIRST)
    trail = MemoryAuditTrail(clock.now)
    for at, entry in realistic_mix():
        clock.at = at
        await trail.append(entry)
    clock.at = MARCH_FIRST + 40 * 86400
    context = OversightContext(
        auditors=MemoryAuditors(), counts=trail, trail=trail, min_count=min_count, clock=clock
    )
    return context, trail


def test_suppression_keeps_zero_and_counts_from_the_threshold() -> None:
    assert [suppress(n, 5) for n in (0, 1, 4, 5, 6)] == [0, SUPPRESSED, SUPPRESSED, 5, 6]
    assert [suppress(n, 2) for n in (0, 1, 2)] == [0, SUPPRESSED, 2]


def test_a_period_is_two_dates_in_order_and_not_too_long() -> None:
    period = Period.parse("2026-03-01", "2026-03-31")
    assert (period.days, period.label()) == (31, "2026-03-01/2026-03-31")
    assert period.ends_before - period.starts_at == 31 * 86400
    assert Period.parse("2026-03-01", "2026-03-01").days == 1
    for first, last, why in [
        ("2026-3-1", "2026-03-31", "from must be a date"),
        ("2026-03-01", "31.03.2026", "to must be a date"),
        ("2026-03-01T00:00", "2026-03-31", "from must be a date"),
        ("2026-W01-1", "2026-03-31", "from must be a date"),
        ("2026-03-01", "2026W101", "to must be a date"),
        ("２０２６-03-01", "2026-03-31", "from must be a date"),
        ("2026-03-31", "2026-03-01", "ends (to) before it starts"),
        ("2023-01-01", "2026-01-01", "1096 days at most"),
    ]:
        with pytest.raises(PeriodError, match=why.replace("(", r"\(").replace(")", r"\)")):
            Period.parse(first, last)


async def test_the_figures_of_march() -> None:
    context, trail = await _context()
    figures = await read_figures(context, DPA, MARCH)
    rows = {(r.counter, r.purpose, r.claims): dict(r.figures) for r in figures.counters}
    assert rows[("bar-age-check", "age_over_18", ("age_equal_or_over.18",))] == {
        "requested": 12,
        "answered_ok": 9,
        "declined": SUPPRESSED,
        "failed": SUPPRESSED,
        "refused": 0,
    }
    agencies = {(r.agency, r.credential_configuration): dict(r.figures) for r in figures.agencies}
    assert agencies[("civil-registry", "national_id")] == {
        "issued": 7,
        "revoked": 5,
        "suspended": SUPPRESSED,
        "reinstated": SUPPRESSED,
    }
    assert len(figures.counters) == 3 and len(figures.agencies) == 2
    # rolled up or not, the same
    await trail.roll_up(context.clock.now())
    assert (await read_figures(context, DPA, MARCH)).counters == figures.counters


async def test_a_lower_threshold_shows_more() -> None:
    context, _ = await _context(min_count=2)
    figures = await read_figures(context, DPA, MARCH)
    agencies = {(r.agency, r.credential_configuration): dict(r.figures) for r in figures.agencies}
    assert agencies[("civil-registry", "residence_permit")]["issued"] == 2
    age = next(r for r in figures.counters if r.claims == ("age_equal_or_over.18",))
    # failed (1) alone would be 12 - 9 - 2 where nothing expired: declined goes with it
    assert dict(age.figures) == {
        "requested": 12,
        "answered_ok": 9,
        "declined": SUPPRESSED,
        "failed": SUPPRESSED,
        "refused": 0,
    }


async def test_a_single_suppressed_answer_figure_takes_another_with_it() -> None:
    trail = MemoryAuditTrail(lambda: MARCH_FIRST + 60)
    for entry in [
        *[asked("bar-age-check", "age_over_18", AGE)] * 12,
        *[answered("bar-age-check", "age_over_18", AGE, "ok")] * 11,
        answered("bar-age-check", "age_over_18", AGE, "access_denied"),
    ]:
        await trail.append(entry)
    context = OversightContext(auditors=MemoryAuditors(), counts=trail, trail=trail)
    [row] = (await read_figures(context, DPA, MARCH)).counters
    # declined would be 12 - 11 - 0 with answered_ok shown: it is not shown either
    assert dict(row.figures) == {
        "requested": 12,
        "answered_ok": SUPPRESSED,
        "declined": SUPPRESSED,
        "failed": 0,
        "refused": 0,
    }


async def test_suppression_counts_acts_not_the_credentials_they_changed() -> None:
    """One operator's one revocation of a batch of twenty is one act: suppressed."""
    trail = MemoryAuditTrail(lambda: MARCH_FIRST + 60)
    batch = credential("credential.revoked", "civil-registry", "national_id")
    await trail.append(
        AuditEntry(
            batch.actor_kind, batch.actor, batch.action, facts={**batch.facts, "changed": 20}
        )
    )
    for _ in range(5):
        await trail.append(
            AuditEntry(
                batch.actor_kind,
                batch.actor,
                "credential.suspended",
                facts={**batch.facts, "changed": 2},
            )
        )
    context = OversightContext(auditors=MemoryAuditors(), counts=trail, trail=trail)
    [row] = (await read_figures(context, DPA, MARCH)).agencies
    assert row.figures["revoked"] == SUPPRESSED
    assert row.figures["suspended"] == 10  # five acts, ten credentials


async def test_the_read_is_appended_before_anything_is_counted() -> None:
    context, trail = await _context()
    await read_figures(context, DPA, MARCH)
    viewed = await trail.count(Period.parse("2026-04-10", "2026-04-10"), ["oversight.viewed"])
    assert [(g.actor_kind, g.actor, dict(g.facts), g.count) for g in viewed] == [
        ("auditor", "dpa", {"period": "2026-03-01/2026-03-31", "read": "figures"}, 1)
    ]

    class Unrecorded(MemoryAuditTrail):
        async def append(self, entry: AuditEntry) -> None:
            raise ConnectionError("the trail is away")

    failing = OversightContext(
        auditors=context.auditors, counts=context.counts, trail=Unrecorded(lambda: 0.0)
    )
    with pytest.raises(ConnectionError):
        await read_figures(failing, DPA, MARCH)


def test_a_bad_period_is_a_400_problem() -> None:
    context = OversightContext(
        auditors=MemoryAuditors(),
        counts=MemoryAuditTrail(lambda: 0.0),
        trail=MemoryAuditTrail(lambda: 0.0),
        max_period_days=31,
    )
    with pytest.raises(Problem) as refused:
        parse_period(context, "2026-01-01", "2026-02-01")
    assert (refused.value.status, refused.value.detail) == (400, "a period covers 31 days at most")
