"""NumericDate claims (RFC 7519 §2): JSON numbers of a sane size, nothing else."""

import math

import pytest

from core.jose.claims import MAX_NUMERIC_DATE, InvalidClaims, check_time_claims, numeric_date


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0.0), (1700000000, 1700000000.0), (1700000000.5, 1700000000.5), (MAX_NUMERIC_DATE, None)],
)
def test_numbers_in_range_are_dates(value: float, expected: float | None) -> None:
    result = numeric_date({"exp": value}, "exp")
    assert result == (float(value) if expected is None else expected)
    assert type(result) is float


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        "1700000000",
        None,
        [1],
        {"n": 1},
        -1,
        -0.5,
        MAX_NUMERIC_DATE + 1,
        10**400,
        math.inf,
        -math.inf,
        math.nan,
        1e300,
    ],
)
def test_anything_else_is_refused(value: object) -> None:
    with pytest.raises(InvalidClaims):
        numeric_date({"exp": value}, "exp")


def test_an_absent_claim_is_none_and_time_claims_are_checked() -> None:
    assert numeric_date({}, "exp") is None
    check_time_claims({"exp": 200, "nbf": 100, "iat": 100}, now=150, leeway=0)
    for claims in ({"exp": 150}, {"nbf": 151}, {"iat": 151}):
        with pytest.raises(InvalidClaims):
            check_time_claims(claims, now=150, leeway=0)
