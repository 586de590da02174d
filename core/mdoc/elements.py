"""Data element values (ISO/IEC 18013-5 §7.2.1, §8.3.2.1.2.1): what an issuer may put in
``elementValue`` and how a verified value is shown as JSON.

Accepted values are CBOR's: text, integers (64-bit), booleans, null, byte strings (a
``portrait``), finite floats, ``full-date`` (:class:`datetime.date`, tag 1004: a
``birth_date``), ``tdate`` (an aware :class:`datetime.datetime`, tag 0), and arrays and
maps of them (``driving_privileges`` is an array of maps, §7.2.4), maps keyed by text or
integers. Anything else is refused before it is signed.

The well-known names of ISO/IEC 18013-5 (§7.1, §7.2.1) are here too.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from typing import Any

from core.mdoc.cbor import EncodedCbor, tdate

#: ISO/IEC 18013-5 §7.1: the mDL's document type and its name space.
MDL_DOC_TYPE = "org.iso.18013.5.1.mDL"
MDL_NAMESPACE = "org.iso.18013.5.1"

#: How deeply an element value may nest (``driving_privileges[].codes[]`` needs 4).
MAX_ELEMENT_DEPTH = 8
_INT_MIN, _INT_MAX = -(2**64), 2**64 - 1


def check_element_value(value: object, where: str = "elementValue", depth: int = 0) -> None:
    """Raise ``ValueError`` unless ``value`` is a data element value this module encodes."""
    if depth > MAX_ELEMENT_DEPTH:
        raise ValueError(f"{where} nests deeper than {MAX_ELEMENT_DEPTH} levels")
    if value is None or isinstance(value, bool | str | bytes | EncodedCbor):
        return
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError(f"{where} is an integer outside CBOR's range")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is a float that is NaN or infinite")
        return
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"{where} is a date-time without a time zone")
        return
    if isinstance(value, dt.date):
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_element_value(item, f"{where}[{index}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, str | int):
                raise ValueError(f"{where} has a map key that is not text or an integer")
            check_element_value(item, f"{where}.{key}", depth + 1)
        return
    raise ValueError(f"{where} is a {type(value).__name__}, which is not a CBOR data element")


def element_value_to_json(value: Any) -> Any:
    """A verified element value as JSON: ``full-date`` as ``YYYY-MM-DD``, ``tdate`` as
    RFC 3339 with ``Z``, byte strings (a portrait) as base64url without padding, maps with
    integer keys keyed by their decimal text."""
    if isinstance(value, dt.datetime):
        return tdate(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")
    if isinstance(value, EncodedCbor):
        return element_value_to_json(value.data)
    if isinstance(value, list | tuple):
        return [element_value_to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): element_value_to_json(item) for key, item in value.items()}
    return value


def claims_to_json(claims: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Verified claims (name space → element identifier → value) as JSON."""
    return {
        name_space: {name: element_value_to_json(value) for name, value in elements.items()}
        for name_space, elements in claims.items()
    }
