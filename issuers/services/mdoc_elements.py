"""What an agency's mdoc states (ISO/IEC 18013-5 §7.2; OpenID4VCI 1.0 Appendix A.2): its
data elements by name space, made from the register's record of the configuration it is
another format of (``claims_of``), never typed in twice.

Each element is the record's claim it names (``from``), a constant the catalog gives
(``value``: ``issuing_authority``), or worked out when the mdoc is signed (``computed``):
its own ``issue_date`` and ``expiry_date``, the deployment's ``issuing_country`` (the C of
the document signer's certificate, which verifiers compare with it), and ``age_over_NN``
from the record's birth date on that day. A date of the record (``YYYY-MM-DD``), at any
depth of the claim (``driving_privileges[].issue_date``), becomes a ``full-date`` (tag
1004), as the mDL and the PID rulebook type them. An optional claim the record leaves out
is left out.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

from core.claim_paths import ClaimPath
from issuers.domain import CredentialConfiguration


def mdoc_name_spaces(
    configuration: CredentialConfiguration,
    record: CredentialConfiguration,
    claims: Mapping[str, Any],
    *,
    issued_on: dt.date,
    expires_on: dt.date,
    country: str,
) -> dict[str, dict[str, Any]]:
    """``configuration``'s elements (name space → element → value) for the ``claims`` of
    ``record``'s configuration, as checked when the offer was made, of an mdoc issued on
    ``issued_on`` and valid until ``expires_on``."""
    dates = [claim.path for claim in record.claims if claim.value_type == "date"]
    name_spaces: dict[str, dict[str, Any]] = {}
    for element in configuration.claims:
        name_space, identifier = str(element.path[0]), str(element.path[1])
        value: Any
        if element.constant is not None:
            value = element.constant
        elif element.computed == "issue_date":
            value = issued_on
        elif element.computed == "expiry_date":
            value = expires_on
        elif element.computed == "issuing_country":
            value = country
        else:
            assert element.source is not None  # catalog: from, value or computed
            found = _select(claims, element.source)
            if found is None:
                continue
            value = _with_dates(copy.deepcopy(found[0]), element.source, dates)
            if element.computed == "age_over":
                assert element.age is not None  # catalog
                value = _aged(value, element.age, issued_on)
        name_spaces.setdefault(name_space, {})[identifier] = value
    return name_spaces


def _aged(birth_date: object, age: int, on: dt.date) -> bool:
    """ISO/IEC 18013-5 §7.2.5 ``age_over_NN``: whether the holder is ``age`` or older on
    the day the mdoc is issued."""
    if not isinstance(birth_date, dt.date):
        raise ValueError("age_over needs a birth date")
    years = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    return years >= age


def _select(claims: Mapping[str, Any], path: ClaimPath) -> tuple[Any] | None:
    """The value at a path of names (a record's claim), or None where it is absent."""
    value: Any = claims
    for step in path:
        if not isinstance(value, Mapping) or step not in value:
            return None
        value = value[step]
    return (value,)


def _with_dates(value: Any, source: ClaimPath, dates: list[ClaimPath]) -> Any:
    for date_path in dates:
        if date_path[: len(source)] == source:
            value = _date_at(value, date_path[len(source) :])
    return value


def _date_at(value: Any, rest: ClaimPath) -> Any:
    """``value`` with the date strings at ``rest`` (names, ``None`` for every array
    element) made ``full-date``s."""
    if not rest:
        return dt.date.fromisoformat(value) if isinstance(value, str) else value
    step, tail = rest[0], rest[1:]
    if step is None and isinstance(value, list):
        return [_date_at(item, tail) for item in value]
    if isinstance(step, str) and isinstance(value, dict) and step in value:
        value[step] = _date_at(value[step], tail)
    return value
