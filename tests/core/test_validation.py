"""Validation failures of typed messages explained in our words, with the JSON path."""

from __future__ import annotations

import msgspec
import pytest

from core.validation import explain


class Inner(msgspec.Struct, forbid_unknown_fields=True):
    count: int
    labels: list[str] = []


class Outer(msgspec.Struct):
    items: list[Inner]
    name: str | None = None


@pytest.mark.parametrize(
    ("value", "explained"),
    [
        ({"items": {}}, "at $.items: expected an array, got an object"),
        ({"items": [{}]}, "at $.items[0]: the member 'count' is required"),
        (
            {"items": [{"count": 1, "extra": 2}]},
            "at $.items[0]: the member 'extra' is not known here",
        ),
        ({"items": [], "name": 3}, "at $.name: expected a string or null, got an integer"),
        (
            {"items": [{"count": True}]},
            "at $.items[0].count: expected an integer, got true or false",
        ),
        ("items", "at $: expected an object, got a string"),
    ],
)
def test_explained_with_path_and_expectation(value: object, explained: str) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(value, Outer)
    assert explain(caught.value) == explained


def test_a_failure_of_another_shape_is_still_ours() -> None:
    assert explain(msgspec.ValidationError("Expected `int` >= 0 - at `$.n`")) == (
        "at $.n: this value is not allowed here"
    )
