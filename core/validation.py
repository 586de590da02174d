"""Validation failures of typed messages, in our words: where (a JSON path such as
``$.credentials[0].claims``) and what was expected, never the parsing library's own text,
which changes between its versions and means nothing to a counter clerk or an integrator."""

from __future__ import annotations

import re

import msgspec

_EXPECTED = re.compile(r"^Expected `(?P<expected>[^`]+)`, got `(?P<got>[^`]+)`")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`")
_AT = re.compile(r" - at `(?P<path>\$[^`]*)`$")
_KINDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "null": "null",
    "array": "an array",
    "object": "an object",
}


def _kind(name: str) -> str:
    return _KINDS.get(name.strip(), "another kind of value")


def _kinds(union: str) -> str:
    names = [_kind(part) for part in union.split("|")]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def explain(error: msgspec.ValidationError) -> str:
    """``at $.credentials[0].claims: expected an array, got a string``."""
    message = str(error)
    at = _AT.search(message)
    path = at.group("path") if at else "$"
    if (expected := _EXPECTED.match(message)) is not None:
        what = f"expected {_kinds(expected['expected'])}, got {_kind(expected['got'])}"
    elif (missing := _MISSING.match(message)) is not None:
        what = f"the member {missing['field']!r} is required"
    elif (unknown := _UNKNOWN.match(message)) is not None:
        what = f"the member {unknown['field']!r} is not known here"
    else:
        what = "this value is not allowed here"
    return f"at {path}: {what}"
