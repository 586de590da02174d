"""Identifiers that people and their systems choose (a citizen's subject id at an agency,
a credential id named by a clerk): bounded, and made of printable characters only.

Control, format, private-use, unassigned and surrogate code points are refused with a
clear message before they reach storage: a NUL cannot be stored by PostgreSQL at all, and
invisible characters make two identifiers that look the same differ.
"""

from __future__ import annotations


class InvalidIdentifier(ValueError):
    """The value is not an acceptable identifier; the message says why."""


def checked_identifier(value: object, *, what: str, max_length: int) -> str:
    """``value`` if it is a string of 1 to ``max_length`` printable characters."""
    if not isinstance(value, str) or not 0 < len(value) <= max_length:
        raise InvalidIdentifier(f"{what} must be a string of 1 to {max_length} characters")
    if not value.isprintable():
        raise InvalidIdentifier(f"{what} must not contain control or invisible characters")
    return value
