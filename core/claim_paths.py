"""Claims path pointers (OpenID4VP 1.0 §7, also OpenID4VCI 1.0 Appendix C).

A pointer is a non-empty array of strings (object keys), ``None`` (every element of an
array) and non-negative integers (one array element). Used by DCQL, by SD-JWT
presentation (which disclosures to release) and by issuer credential configurations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PathComponent = str | int | None
ClaimPath = tuple[PathComponent, ...]

MAX_PATH_LENGTH = 16


class ClaimPathError(ValueError):
    """A malformed pointer, or one that selects nothing (§7.1.1 step 3)."""


def parse_claim_path(value: object) -> ClaimPath:
    """Validate a JSON claims path pointer into a tuple."""
    if not isinstance(value, list | tuple) or not value or len(value) > MAX_PATH_LENGTH:
        raise ClaimPathError(
            f"a claims path pointer is a non-empty array of at most {MAX_PATH_LENGTH}"
        )
    for component in value:
        if component is None or isinstance(component, str):
            continue
        if isinstance(component, int) and not isinstance(component, bool) and component >= 0:
            continue
        raise ClaimPathError("path components are strings, null or non-negative integers")
    return tuple(value)


def select(claims: Any, path: Sequence[PathComponent]) -> list[Any]:
    """§7.1.1 processing: the selected JSON elements; raise if the selection is empty."""
    selected: list[Any] = [claims]
    for component in path:
        following: list[Any] = []
        if isinstance(component, str):
            for element in selected:
                if not isinstance(element, dict):
                    raise ClaimPathError("path selects a key in something that is not an object")
                if component in element:
                    following.append(element[component])
        elif component is None:
            for element in selected:
                if not isinstance(element, list):
                    raise ClaimPathError(
                        "path selects all elements of something that is not an array"
                    )
                following.extend(element)
        elif isinstance(component, int) and not isinstance(component, bool) and component >= 0:
            for element in selected:
                if not isinstance(element, list):
                    raise ClaimPathError("path selects an index in something that is not an array")
                if component < len(element):
                    following.append(element[component])
        else:
            raise ClaimPathError("invalid path component")
        selected = following
    if not selected:
        raise ClaimPathError("path selects nothing")
    return selected


def exists(claims: Any, path: Sequence[PathComponent]) -> bool:
    try:
        select(claims, path)
    except ClaimPathError:
        return False
    return True
