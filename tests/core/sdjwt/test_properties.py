"""Hypothesis properties: issue → present any subset → verify yields exactly that subset;
any changed character makes verification fail."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.claim_paths import ClaimPath
from core.sdjwt.errors import SdJwtError
from core.sdjwt.issue import issue_sd_jwt
from core.sdjwt.key_binding import KeyBindingRequest, bind
from core.sdjwt.present import present
from core.sdjwt.verify import KeyBindingPolicy, verify_sd_jwt
from tests.core.sdjwt.forge import AUDIENCE, HOLDER, ISSUER, NONCE, issuer_public_key

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).filter(
    lambda n: n not in ("cnf", "_sd", "_sd_alg", "exp", "nbf", "iat")
)
scalars = st.one_of(st.booleans(), st.integers(-(10**9), 10**9), st.text(max_size=12), st.none())
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(names, scalars, max_size=4),
)
claim_sets = st.dictionaries(names, values, min_size=1, max_size=6)


def _all_paths(claims: dict[str, Any]) -> list[ClaimPath]:
    paths: list[ClaimPath] = []
    for name, value in claims.items():
        paths.append((name,))
        if isinstance(value, dict):
            paths.extend((name, key) for key in value)
        elif isinstance(value, list):
            paths.extend((name, index) for index in range(len(value)))
    return paths


def _related(path: ClaimPath, selected: list[ClaimPath]) -> bool:
    return any(s[: len(path)] == path or path[: len(s)] == s for s in selected)


def _expected(
    value: Any, path: ClaimPath, disclosable: set[ClaimPath], selected: list[ClaimPath]
) -> Any:
    if isinstance(value, dict):
        return {
            k: _expected(v, (*path, k), disclosable, selected)
            for k, v in value.items()
            if (*path, k) not in disclosable or _related((*path, k), selected)
        }
    if isinstance(value, list):
        return [
            _expected(v, (*path, i), disclosable, selected)
            for i, v in enumerate(value)
            if (*path, i) not in disclosable or _related((*path, i), selected)
        ]
    return value


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], list[ClaimPath], list[ClaimPath]]:
    claims = draw(claim_sets)
    paths = _all_paths(claims)
    disclosable = draw(st.lists(st.sampled_from(paths), unique=True)) if paths else []
    selected = draw(st.lists(st.sampled_from(paths), unique=True, max_size=4)) if paths else []
    return claims, disclosable, selected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_issue_present_verify_yields_exactly_the_disclosed_subset(
    scenario: tuple[dict[str, Any], list[ClaimPath], list[ClaimPath]],
) -> None:
    claims, disclosable, selected = scenario
    issued = issue_sd_jwt(
        {"cnf": {"jwk": HOLDER.public_jwk()}, **claims},
        ISSUER,
        disclosable=disclosable,
        typ="dc+sd-jwt",
        decoys=(0, 2),
    )
    parts = present(issued.serialize(), selected)
    text = bind(parts.sd_jwt, KeyBindingRequest(AUDIENCE, NONCE, int(time.time())), HOLDER)
    verified = verify_sd_jwt(
        text,
        issuer_key=issuer_public_key(),
        typ="dc+sd-jwt",
        key_binding=KeyBindingPolicy(audience=AUDIENCE, nonce=NONCE),
    )
    got = {k: v for k, v in verified.claims.items() if k != "cnf"}
    assert got == _expected(claims, (), set(disclosable), selected)


_PRESENTATION = bind(
    present(
        issue_sd_jwt(
            {
                "cnf": {"jwk": HOLDER.public_jwk()},
                "given_name": "Erika",
                "address": {"locality": "Berlin", "country": "DE"},
                "nationalities": ["DE", "FR"],
            },
            ISSUER,
            disclosable=[
                ("given_name",),
                ("address",),
                ("address", "locality"),
                ("nationalities", 1),
            ],
            typ="dc+sd-jwt",
        ).serialize(),
        [("given_name",), ("address", "locality"), ("nationalities", 1)],
    ).sd_jwt,
    KeyBindingRequest(AUDIENCE, NONCE, int(time.time())),
    HOLDER,
)
_REPLACEMENTS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~."


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(_PRESENTATION) - 1), st.sampled_from(_REPLACEMENTS))
def test_any_changed_character_fails_verification(position: int, replacement: str) -> None:
    if _PRESENTATION[position] == replacement:
        return
    tampered = _PRESENTATION[:position] + replacement + _PRESENTATION[position + 1 :]
    try:
        verify_sd_jwt(
            tampered,
            issuer_key=issuer_public_key(),
            typ="dc+sd-jwt",
            key_binding=KeyBindingPolicy(audience=AUDIENCE, nonce=NONCE),
        )
    except SdJwtError:
        return
    raise AssertionError(f"tampered presentation verified (position {position})")
