"""Languages: the ``Accept-Language`` header (RFC 9110 §12.5.4) and choosing among
display entries that carry a ``locale`` (BCP 47 tags, compared case-insensitively)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, TypeVar

MAX_ACCEPT_LANGUAGE = 1024
_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([01](?:\.\d{0,3})?))?\s*$"
)


class HasLocale(Protocol):
    @property
    def locale(self) -> str: ...


T = TypeVar("T", bound=HasLocale)


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags in order of preference; ``*``, ``q=0`` and malformed ranges dropped."""
    if not header or len(header) > MAX_ACCEPT_LANGUAGE:
        return []
    weighted = []
    for position, item in enumerate(header.split(",")):
        match = _RANGE.match(item)
        if not match or match.group(1) == "*":
            continue
        quality = float(match.group(2)) if match.group(2) else 1.0
        if quality > 0:
            weighted.append((-quality, position, match.group(1).lower()))
    return [tag for _, _, tag in sorted(weighted)]


def _matches(locale: str, wanted: str) -> bool:
    locale = locale.lower()
    return locale == wanted or locale.split("-")[0] == wanted.split("-", maxsplit=1)[0]


def best_locale(entries: Sequence[T], preferred: Sequence[str]) -> T | None:
    """The entry that best fits the preference (exact tag, then language), falling back
    to English, then to the first entry."""
    if not entries:
        return None
    for wanted in [*(p.lower() for p in preferred), "en"]:
        exact = next((e for e in entries if e.locale.lower() == wanted), None)
        if exact is not None:
            return exact
        close = next((e for e in entries if _matches(e.locale, wanted)), None)
        if close is not None:
            return close
    return entries[0]


def preferred_subset(entries: Sequence[T], preferred: Sequence[str]) -> list[T]:
    """The entries in the preferred languages (all of them when none is asked or matches)."""
    if not preferred:
        return list(entries)
    chosen = [e for e in entries if any(_matches(e.locale, wanted) for wanted in preferred)]
    return chosen or list(entries)
