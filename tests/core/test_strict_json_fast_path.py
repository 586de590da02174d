"""The compiled fast path of ``strict_json_loads`` answers exactly as the strict parser
does: the same value, or a refusal, on every input (``_strict_loads`` is the strict
parser alone)."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.encoding import StrictJsonError, _strict_loads, strict_json_loads

LIMIT = 256 * 1024


def _verdict(parse: Any, text: str | bytes, max_depth: int = 32) -> str:
    try:
        return "value " + repr(parse(text, max_depth=max_depth))
    except StrictJsonError:
        return "refused"


def _strict(text: str | bytes, *, max_depth: int) -> Any:
    return _strict_loads(text, LIMIT, max_depth)


def _agree(text: str | bytes, max_depth: int = 32) -> str:
    fast = _verdict(strict_json_loads, text, max_depth)
    assert fast == _verdict(_strict, text, max_depth), text
    return fast


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',
        '{"a": 1, "\\u0061": 2}',  # the same name, once escaped
        '{"a:": 1, "a\\u003a": 2}',  # an escaped colon in the second name
        '{"a:": 1, "a\\u003A": 2}',
        '{"a": "x:y", "a": "x:y"}',  # the same member twice, colons in its value
        '[{"k": 1}, {"k": 2, "k": 3}]',  # in an object inside an array
        '{"x": {"y": {"z": [], "z": []}}}',
        '{"a": {"b": 1, "b": 1}, "c": "::"}',
        '{"n": NaN}',
        '{"n": Infinity}',
        '{"n": -Infinity}',
        '{"n": 1e400}',
        '{"n": -1e400}',
        '{"n": 1.7976931348623159e308}',
        '{"n": ' + "9" * 41 + "}",
        '{"n": -' + "9" * 40 + "}",  # the sign counts
        '{"n": ' + "9" * 5000 + "}",
        "[" * 33 + "]" * 33,
        "[" * 10000 + "]" * 10000,
        '{"a": ' * 40 + "1" + "}" * 40,
        '"\x01"',  # a control character in a string
        '"\\x"',
        "\ufeff[1]",
        "\x0c[1]",
        "[1]\x0b",
        "[01]",
        "[1.]",
        "[.5]",
        "[+1]",
        "[1,]",
        '{"a": 1,}',
        "",
        " ",
        '{"a": 1} trailing',
        "{",
    ],
)
def test_refused_exactly_as_by_the_strict_parser(text: str) -> None:
    assert _agree(text) == "refused"
    assert _agree(text.encode("utf-8", "surrogatepass")) == "refused"


@pytest.mark.parametrize(
    "raw",
    [b'"\xff"', b'"\xed\xa0\x80"', b'"\xc0\x80"', b'["a", "\xe2\x82"]', b'{"\xff": 1}'],
)
def test_bad_utf8_is_refused(raw: bytes) -> None:
    assert _agree(raw) == "refused"


@pytest.mark.parametrize(
    "text",
    [
        '{"n": ' + "9" * 40 + "}",  # exactly the digits allowed
        '{"n": -' + "9" * 39 + "}",
        '{"s": "' + "9" * 60 + '"}',  # digits in a string are not a number
        '{"a": "x", "b": {"a": "x"}}',  # the same name in two objects
        '{"a:b": "c:d", "e": [":", {"f": "::"}]}',
        '{"\\u003a": 1}',  # an escaped colon, no duplicate
        '"\\ud800"',  # a lone surrogate is JSON, and kept as it is
        '["\\udc00\\ud800"]',
        '"\\ud83d\\ude00"',
        '"a\x7f"',
        '{"n": [1e-400, -1e-400, -0, -0.0, 1E5, 0.1e1, 2.5e-324]}',
        " \t\r\n[1] \t\r\n",
        "[" * 32 + "]" * 32,
        '{"s": "' + "[" * 100 + '"}',
        '{"a": [1, 2.5, "x", null, true], "b": {"c": {}}}',
    ],
)
def test_accepted_exactly_as_by_the_strict_parser(text: str) -> None:
    assert _agree(text).startswith("value ")


def test_depth_limit_is_the_callers() -> None:
    text = '{"a": [{"b": [1]}]}'
    assert _agree(text, max_depth=4).startswith("value ")
    assert _agree(text, max_depth=3) == "refused"


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**45), max_value=10**45)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
names = st.sampled_from(["a", "b", "a:", ":", "\u00e9", "x\u003ay", ""]) | st.text(max_size=4)


def _members(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # Objects as lists of members, so that the same name may occur twice.
    return st.lists(children, max_size=4) | st.builds(
        _JsonObject, st.lists(st.tuples(names, children), max_size=4)
    )


class _JsonObject:
    def __init__(self, members: list[tuple[str, Any]]) -> None:
        self.members = members


documents = st.recursive(scalars, _members, max_leaves=12)


def _render(value: Any, ascii_only: bool, compact: bool = True) -> str:
    """Compact and without escapes, as idwallet writes JSON; or spaced, or escaped."""
    comma, colon = (",", ":") if compact else (", ", ": ")
    if isinstance(value, _JsonObject):
        inner = comma.join(
            json.dumps(k, ensure_ascii=ascii_only) + colon + _render(v, ascii_only, compact)
            for k, v in value.members
        )
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + comma.join(_render(v, ascii_only, compact) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


@settings(max_examples=400, deadline=None)
@given(documents, st.booleans(), st.booleans(), st.integers(min_value=1, max_value=8))
def test_generated_documents(value: Any, ascii_only: bool, compact: bool, max_depth: int) -> None:
    text = _render(value, ascii_only, compact)
    _agree(text, max_depth)
    _agree(text.encode("utf-8", "surrogatepass"), max_depth)


@settings(max_examples=400, deadline=None)
@given(
    documents,
    st.lists(
        st.tuples(
            st.integers(min_value=0),
            st.sampled_from(
                [":", "{", "}", "[", "]", '"', "\\", ",", "\\u003a", "\\u0061", "9" * 41, " "]
            ),
            st.booleans(),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_damaged_documents(value: Any, edits: list[tuple[int, str, bool]]) -> None:
    text = _render(value, False, compact=len(edits) > 1)
    for position, piece, replace in edits:
        at = position % (len(text) + 1)
        text = text[:at] + piece + text[at + (1 if replace else 0) :]
    _agree(text)
    _agree(text.encode("utf-8", "surrogatepass"))
