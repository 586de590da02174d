"""JWT claim checks (RFC 7519 §4.1), done after the signature check, never before.

Date claims must be JSON numbers (not booleans, strings or non-finite values) of a sane
size: ``"1700000000"``, ``true``, ``1e400`` or a 5000-digit integer are errors, never an
``OverflowError`` later.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from core.jose.errors import JoseError

#: Year 9999: any NumericDate beyond it is nonsense.
MAX_NUMERIC_DATE = 253_402_300_799
_NUMBERS = (int, float)


class InvalidClaims(JoseError):
    """A claim is missing, of the wrong type, or outside its validity window."""


def numeric_date(payload: Mapping[str, Any], name: str) -> float | None:
    if name not in payload:
        return None
    value = payload[name]
    if type(value) is int:  # the usual case, decided at once (a bool is not an int here)
        if not 0 <= value <= MAX_NUMERIC_DATE:
            raise InvalidClaims(f"{name} is out of range")
        return float(value)
    if isinstance(value, bool) or not isinstance(value, _NUMBERS):
        raise InvalidClaims(f"{name} must be a NumericDate")
    if not math.isfinite(value) or not 0 <= value <= MAX_NUMERIC_DATE:
        raise InvalidClaims(f"{name} is out of range")
    return float(value)


def check_time_claims(
    payload: Mapping[str, Any],
    *,
    now: float,
    leeway: float = 60,
    required: Collection[str] = (),
) -> None:
    """``exp`` in the future, ``nbf`` and ``iat`` not in the future (with ``leeway``)."""
    for name in required:
        if name not in payload:
            raise InvalidClaims(f"{name} is required")
    exp = numeric_date(payload, "exp")
    if exp is not None and exp <= now - leeway:
        raise InvalidClaims("token has expired")
    nbf = numeric_date(payload, "nbf")
    if nbf is not None and nbf > now + leeway:
        raise InvalidClaims("token is not yet valid")
    iat = numeric_date(payload, "iat")
    if iat is not None and iat > now + leeway:
        raise InvalidClaims("token was issued in the future")


def check_audience(payload: Mapping[str, Any], expected: str) -> None:
    """``aud`` must be the expected string, or an array containing it (RFC 7519 §4.1.3)."""
    aud = payload.get("aud")
    if isinstance(aud, str):
        if aud == expected:
            return
    elif isinstance(aud, list) and all(isinstance(a, str) for a in aud) and expected in aud:
        return
    raise InvalidClaims("audience does not match")


def require_string(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidClaims(f"{name} must be a non-empty string")
    return value
