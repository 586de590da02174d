"""The log canary: personal data of the suite's test citizens must never reach a log line,
whatever error path a test provokes.

Every test's in-process log records (message and any traceback, as a handler would print
them) and every real server's output are searched for the values below; a hit fails the
test that produced it. The values are the test citizens' own (``bench/national_id.py``,
the demo agencies' registers) and the ``Zzcanary`` marker some tests put into claims.
"""

from __future__ import annotations

import logging
import threading

PERSONAL_DATA = (
    "Erika",
    "Mustermann",
    "Heidestraße",
    "T22000129",
    "B072RRE2I55",
    "1964-08-12",
    "Zzcanary",
)


def leaks(text: str) -> list[str]:
    """The lines of ``text`` that carry personal data."""
    return [line for line in text.splitlines() if any(value in line for value in PERSONAL_DATA)]


class CanaryHandler(logging.Handler):
    """Keeps every record, formatted with its traceback, until the test that caused it
    is checked."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self._lines: list[str] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a record that cannot be formatted is not ours to judge
            return
        with self._guard:
            self._lines.append(text)

    def take(self) -> str:
        with self._guard:
            lines, self._lines = self._lines, []
        return "\n".join(lines)
