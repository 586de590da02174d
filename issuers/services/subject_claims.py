"""Checking an agency's data about a citizen against a credential configuration before
anything is offered: no unknown claims, every mandatory one present, every value of its
declared type. What passes is exactly what will be signed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.claim_paths import ClaimPath
from issuers.domain import ClaimDefinition, CredentialConfiguration

MAX_STRING_LENGTH = 2000
MAX_ARRAY_LENGTH = 100
_EXPECTED = {
    "string": "a non-empty string",
    "date": "a date (YYYY-MM-DD)",
    "boolean": "true or false",
    "integer": "an integer",
    "object": "an object",
    "array": "an array",
}
_EXPECTED = {
    "string": "a non-empty string",
    "date": "a date (YYYY-MM-DD)",
    "boolean": "true or false",
    "integer": "an integer",
    "object": "an object",
    "array": "an array",
}


class InvalidSubjectClaims(ValueError):
    """The claims do not fit the configuration; ``problems`` lists each one by path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _check_value(definition: ClaimDefinition, value: Any, where: str, problems: list[str]) -> bool:
    kind = definition.value_type
    if kind == "string":
        ok = isinstance(value, str) and 0 < len(value) <= MAX_STRING_LENGTH
    elif kind == "date":
        ok = isinstance(value, str) and _is_date(value)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53
    elif kind == "object":
        ok = isinstance(value, dict)
    else:
        ok = isinstance(value, list) and len(value) <= MAX_ARRAY_LENGTH
    if not ok:
        problems.append(f"{where} must be {_EXPECTED[kind]}")
    return ok


def _is_date(value: str) -> bool:
    if len(value) != 10:
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


class _Checker:
    def __init__(self, configuration: CredentialConfiguration) -> None:
        self._by_path = {c.path: c for c in configuration.claims}
        self.problems: list[str] = []

    def _children(self, parent: ClaimPath) -> list[ClaimDefinition]:
        return [
            c for p, c in self._by_path.items() if len(p) == len(parent) + 1 and p[:-1] == parent
        ]

    def check_object(self, value: dict[str, Any], schema_path: ClaimPath, where: str) -> None:
        children = {
            c.path[-1]: c for c in self._children(schema_path) if isinstance(c.path[-1], str)
        }
        for key in value:
            if key not in children:
                self.problems.append(f"{where}{key} is not a claim of this credential")
        for name, definition in children.items():
            if not isinstance(name, str):
                raise TypeError("the claims of an object are named by strings")
            if name not in value:
                if definition.mandatory:
                    self.problems.append(f"{where}{name} is required")
                continue
            self.check(definition, value[name], f"{where}{name}")

    def check(self, definition: ClaimDefinition, value: Any, where: str) -> None:
        if not _check_value(definition, value, where, self.problems):
            return
        if definition.value_type == "object":
            self.check_object(value, definition.path, where + "/")
        elif definition.value_type == "array":
            element = self._by_path.get((*definition.path, None))
            if element is None:
                self.problems.append(f"{where} has no element definition")
                return
            if definition.mandatory and not value:
                self.problems.append(f"{where} must not be empty")
            for index, item in enumerate(value):
                self.check(element, item, f"{where}/{index}")


def check_subject_claims(configuration: CredentialConfiguration, claims: object) -> dict[str, Any]:
    """Return the claims if they fit the configuration; raise :class:`InvalidSubjectClaims`."""
    if not isinstance(claims, dict):
        raise InvalidSubjectClaims(["claims must be a JSON object"])
    checker = _Checker(configuration)
    checker.check_object(claims, (), "")
    if checker.problems:
        raise InvalidSubjectClaims(checker.problems)
    return claims
