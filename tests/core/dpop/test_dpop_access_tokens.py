"""The ``DPoP`` and ``Bearer`` schemes of ``Authorization`` (RFC 9449 §7.1, §7.2): which
token a request presents and how, and a token used only with the scheme it was issued for."""

from __future__ import annotations

import pytest

from core.dpop import (
    AccessTokenScheme,
    PresentedAccessToken,
    check_token_scheme,
    presented_access_token,
)
from core.errors import InvalidDpopBoundToken, InvalidRequest, InvalidToken

SPEC_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"  # RFC 9449 §7.1
JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


@pytest.mark.parametrize(
    ("header", "scheme"),
    [
        (f"DPoP {SPEC_TOKEN}", AccessTokenScheme.DPOP),
        (f"dpop {SPEC_TOKEN}", AccessTokenScheme.DPOP),
        (f"DPOP   {SPEC_TOKEN} ", AccessTokenScheme.DPOP),
        (f"Bearer {SPEC_TOKEN}", AccessTokenScheme.BEARER),
        (f"bearer {SPEC_TOKEN}", AccessTokenScheme.BEARER),
    ],
)
def test_the_scheme_and_token_are_read(header: str, scheme: AccessTokenScheme) -> None:
    assert presented_access_token([header]) == PresentedAccessToken(scheme, SPEC_TOKEN)


def test_padding_of_a_token68_is_kept() -> None:
    assert presented_access_token(["DPoP abc=="]) == PresentedAccessToken(
        AccessTokenScheme.DPOP, "abc=="
    )


@pytest.mark.parametrize("headers", [[], ["Basic dXNlcjpwYXNz"], ["Negotiate abc"], ["DPoPx a"]])
def test_no_token_of_these_schemes_is_none(headers: list[str]) -> None:
    """RFC 6750 §3.1: answered with a challenge without error information."""
    assert presented_access_token(headers) is None


@pytest.mark.parametrize(
    "headers",
    [
        [f"Bearer {SPEC_TOKEN}", f"DPoP {SPEC_TOKEN}"],  # RFC 9449 §7.2, the ambiguous request
        ["DPoP"],
        ["Bearer "],
        ["DPoP a b"],
        ["DPoP a=b"],
        ["DPoP tok\u00e9n"],
        ["DPoP a,b"],
        ["DPoP " + "a" * 4097],
        ["DPoP " + "a" * 100_000],
    ],
)
def test_an_ambiguous_or_malformed_header_is_invalid_request(headers: list[str]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        presented_access_token(headers)
    assert (caught.value.error, caught.value.status_code) == ("invalid_request", 400)


def test_a_bound_token_presented_as_bearer_is_refused() -> None:
    with pytest.raises(InvalidToken) as caught:
        check_token_scheme(
            PresentedAccessToken(AccessTokenScheme.BEARER, SPEC_TOKEN), bound_jkt=JKT
        )
    error = caught.value
    assert (type(error), error.status_code, error.challenge_scheme) == (InvalidToken, 401, "Bearer")
    assert "DPoP" in error.description


def test_a_bearer_token_presented_as_dpop_is_refused() -> None:
    with pytest.raises(InvalidDpopBoundToken) as caught:
        check_token_scheme(PresentedAccessToken(AccessTokenScheme.DPOP, SPEC_TOKEN), bound_jkt=None)
    assert caught.value.to_body()["error"] == "invalid_token"
    assert (caught.value.status_code, caught.value.challenge_scheme) == (401, "DPoP")


def test_each_token_with_its_own_scheme_passes() -> None:
    check_token_scheme(PresentedAccessToken(AccessTokenScheme.DPOP, SPEC_TOKEN), bound_jkt=JKT)
    check_token_scheme(PresentedAccessToken(AccessTokenScheme.BEARER, SPEC_TOKEN), bound_jkt=None)
