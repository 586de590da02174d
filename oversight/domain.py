"""What the oversight body sees: a period of whole UTC days, the counted groups of the
audit trail, and the figures made of them with small counts suppressed.

The counted actions are those of ``core.audit.trail`` (its vocabulary table): a counter's
``presentation.requested`` / ``presentation.answered`` / ``presentation.refused`` with the
facts ``purpose`` and ``claims``; an agency's ``credential.issued`` and its operators'
``credential.revoked`` / ``credential.suspended`` / ``credential.reinstated`` with the fact
``credential_configuration``. Nothing here names a citizen or a credential.

Suppression (statistical disclosure control, "threshold rule"): a figure from 1 to
``min_count - 1`` is reported as ``SUPPRESSED``, never as its number; zero stays zero.
The figures carry no totals: a total over a row or column that holds a suppressed cell
would give that cell away by subtraction (differencing), and a total over cells that are
all shown tells nothing new.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from core.audit.trail import FactValue

#: A figure below the threshold and above zero, as the API and the screen report it.
SUPPRESSED: Final = "suppressed"
Figure = int | Literal["suppressed"]

#: The longest period one read covers (three years and a day for leap years).
MAX_PERIOD_DAYS: Final = 1096
SECONDS_PER_DAY: Final = 86400

PRESENTATION_REQUESTED = "presentation.requested"
PRESENTATION_ANSWERED = "presentation.answered"
PRESENTATION_REFUSED = "presentation.refused"
CREDENTIAL_ISSUED = "credential.issued"
CREDENTIAL_REVOKED = "credential.revoked"
CREDENTIAL_SUSPENDED = "credential.suspended"
CREDENTIAL_REINSTATED = "credential.reinstated"
#: The actions the figures count; every other entry of the trail is left out of them.
COUNTED_ACTIONS: Final = (
    PRESENTATION_REQUESTED,
    PRESENTATION_ANSWERED,
    PRESENTATION_REFUSED,
    CREDENTIAL_ISSUED,
    CREDENTIAL_REVOKED,
    CREDENTIAL_SUSPENDED,
    CREDENTIAL_REINSTATED,
)
#: What an auditor's read appends to the trail (``core.audit.trail``: ``oversight.*``).
OVERSIGHT_VIEWED: Final = "oversight.viewed"
#: The outcome of a presentation the citizen declined (OpenID4VP 1.0 §8.5, ``access_denied``).
DECLINED: Final = "access_denied"
OK: Final = "ok"


class PeriodError(ValueError):
    """The period asked for is not one: the message says why, in words for the auditor."""


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days, ``first`` to ``last`` inclusive."""

    first: dt.date
    last: dt.date

    @classmethod
    def parse(cls, first: str, last: str, *, max_days: int = MAX_PERIOD_DAYS) -> Period:
        """From two ISO 8601 calendar dates (``YYYY-MM-DD``); ``PeriodError`` when either is
        not a date, the period ends before it starts, or is longer than ``max_days``."""
        dates = []
        for name, text in (("from", first), ("to", last)):
            if not _CALENDAR_DATE.fullmatch(text):
                raise PeriodError(f"{name} must be a date written YYYY-MM-DD")
            try:
                dates.append(dt.date.fromisoformat(text))
            except ValueError:
                raise PeriodError(f"{name} must be a date written YYYY-MM-DD") from None
        period = cls(dates[0], dates[1])
        if period.last < period.first:
            raise PeriodError("the period ends (to) before it starts (from)")
        if period.days > max_days:
            raise PeriodError(f"a period covers {max_days} days at most")
        return period

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def first_day(self) -> int:
        """The first day as a day number (days since 1970-01-01, UTC)."""
        return self.first.toordinal() - _EPOCH_ORDINAL

    @property
    def last_day(self) -> int:
        return self.last.toordinal() - _EPOCH_ORDINAL

    @property
    def starts_at(self) -> float:
        """The first second of the period (seconds since the epoch)."""
        return float(self.first_day * SECONDS_PER_DAY)

    @property
    def ends_before(self) -> float:
        """The first second after the period."""
        return float((self.last_day + 1) * SECONDS_PER_DAY)

    def label(self) -> str:
        """``2026-01-01/2026-01-31`` (ISO 8601 interval of dates), as the trail records it."""
        return f"{self.first.isoformat()}/{self.last.isoformat()}"


_EPOCH_ORDINAL: Final = dt.date(1970, 1, 1).toordinal()
#: A calendar date, ``YYYY-MM-DD`` and nothing else (``fromisoformat`` also takes week dates).
_CALENDAR_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def day_of(timestamp: float) -> int:
    """The UTC day number of a timestamp."""
    return int(timestamp // SECONDS_PER_DAY)


@dataclass(frozen=True, slots=True)
class CountedGroup:
    """How many entries of the trail, in a period, share actor, action, outcome and facts."""

    actor_kind: str
    actor: str
    action: str
    outcome: str
    facts: Mapping[str, FactValue]
    count: int


@dataclass(frozen=True, slots=True)
class Auditor:
    """A registered oversight body (a data-protection authority) or one of its staff."""

    auditor_id: str
    name: str
    registered_at: float


@dataclass(frozen=True, slots=True)
class PresentationCounts:
    """One counter's requests for one purpose and one set of claims."""

    counter: str
    purpose: str
    claims: tuple[str, ...]
    requested: int = 0
    answered_ok: int = 0
    declined: int = 0
    failed: int = 0
    refused: int = 0


@dataclass(frozen=True, slots=True)
class CredentialCounts:
    """One agency's credentials of one configuration."""

    agency: str
    credential_configuration: str
    issued: int = 0
    revoked: int = 0
    suspended: int = 0
    reinstated: int = 0


def suppress(count: int, min_count: int) -> Figure:
    """The figure as reported: zero and counts of at least ``min_count`` as they are,
    anything between as ``SUPPRESSED``."""
    if count == 0 or count >= min_count:
        return count
    return SUPPRESSED
