"""The examples of RFC 9901 and SD-JWT VC verify with the keys the specs give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.clock import FixedClock
from core.jose.jwk import public_key_from_jwk
from core.sdjwt.disclosures import digest, make_disclosure, parse_disclosure
from core.sdjwt.errors import KeyBindingInvalid, UnexpectedKeyBinding
from core.sdjwt.verify import KeyBindingPolicy, verify_issuance, verify_sd_jwt

VECTORS = Path(__file__).parents[2] / "vectors" / "sdjwt"
RFC = json.loads((VECTORS / "rfc9901_examples.json").read_text(encoding="utf-8"))
VC = json.loads((VECTORS / "sd_jwt_vc_examples.json").read_text(encoding="utf-8"))
ISSUER_KEY = public_key_from_jwk(RFC["issuer_jwk"])


def _cases(data: dict[str, Any]) -> list[Any]:
    return [pytest.param(c, id=c["name"]) for c in data["cases"]]


def _policy(case: dict[str, Any]) -> tuple[KeyBindingPolicy | None, FixedClock]:
    kb = case["key_binding"]
    if kb is None:
        return None, FixedClock(1_700_000_000)
    return KeyBindingPolicy(audience=kb["aud"], nonce=kb["nonce"]), FixedClock(kb["at"])


def _without_cnf(claims: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k != "cnf"}


@pytest.mark.parametrize("case", _cases(RFC) + _cases(VC))
def test_spec_examples_verify(case: dict[str, Any]) -> None:
    policy, clock = _policy(case)
    verified = verify_sd_jwt(
        case["sd_jwt"],
        issuer_key=ISSUER_KEY,
        typ=case.get("typ", "dc+sd-jwt"),
        key_binding=policy,
        clock=clock,
    )
    expected = case["expected_claims"]
    if expected is None:
        assert verified.claims["iss"].startswith("https://")
    elif case.get("compare") == "without_cnf":
        assert _without_cnf(verified.claims) == expected
    else:
        assert verified.claims == expected
    if policy is not None:
        assert verified.key_binding is not None
        assert verified.key_binding["nonce"] == case["key_binding"]["nonce"]


def test_key_binding_of_the_spec_example_is_bound_to_its_nonce() -> None:
    case = next(c for c in RFC["cases"] if c["name"] == "presentation_with_key_binding")
    with pytest.raises(KeyBindingInvalid, match="nonce"):
        verify_sd_jwt(
            case["sd_jwt"],
            issuer_key=ISSUER_KEY,
            typ="example+sd-jwt",
            key_binding=KeyBindingPolicy(audience="https://verifier.example.org", nonce="other"),
            clock=FixedClock(case["key_binding"]["at"]),
        )


def test_holder_refuses_an_issued_sd_jwt_with_key_binding() -> None:
    case = next(c for c in VC["cases"] if c["name"] == "vc_presentation_with_key_binding")
    with pytest.raises(UnexpectedKeyBinding):
        verify_issuance(case["sd_jwt"], issuer_key=ISSUER_KEY, typ="dc+sd-jwt")


def test_holder_accepts_the_issued_example() -> None:
    case = next(c for c in VC["cases"] if c["name"] == "vc_issuance")
    verified = verify_issuance(
        case["sd_jwt"], issuer_key=ISSUER_KEY, typ="dc+sd-jwt", clock=FixedClock(1_700_000_000)
    )
    assert verified.claims["given_name"] == "John"
    assert verified.claims["is_over_65"] is True
    assert len(verified.disclosures) == 9


def test_section_4_2_disclosure_and_digest_vectors() -> None:
    # RFC 9901 §4.2.1 and §4.2.3: hashing is over the encoding as received.
    encoded = "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"
    disclosure = parse_disclosure(encoded)
    assert (disclosure.salt, disclosure.name, disclosure.value) == (
        "_26bc4LT-ac6q2KI6cBW5es",
        "family_name",
        "Möbius",
    )
    assert digest(encoded) == "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0"
    # §4.2.2: array element
    element = parse_disclosure("WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0")
    assert (element.salt, element.name, element.value) == ("lklxF5jMYlGTPUovMNIvCA", None, "FR")
    assert digest(element.encoded) == "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs"
    # our own encoding of the same content parses back to the same claim
    ours = make_disclosure("_26bc4LT-ac6q2KI6cBW5es", "family_name", "Möbius")
    assert parse_disclosure(ours.encoded).value == "Möbius"
