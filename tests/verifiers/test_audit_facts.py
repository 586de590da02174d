"""What the audit trail records of a counter's requests (``verifiers.services.audit_facts``
and the refusals of ``create_request``): claim names the deployment knows, anything else
as ``unregistered``, a bounded number of them; the purposes a raw query falls within."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from core.audit.memory import MemoryAuditTrail
from core.errors import Problem
from verifiers.services.audit_facts import (
    MAX_AUDITED_CLAIMS,
    UNREGISTERED,
    known_claims,
    presentation_facts,
    requested_claims,
    requested_paths,
    wallet_outcome,
)
from verifiers.services.catalog import load_relying_parties, load_templates
from verifiers.services.context import VerifierContext
from verifiers.services.create_request import (
    PresentationRequestOptions,
    create_presentation_request,
)

BASE = "https://id.example.gov"
NATIONAL_ID_VCT = f"{BASE}/issuers/civil-registry/types/national_id"
COUNTER = "bar-age-check"


def _context() -> tuple[VerifierContext, MemoryAuditTrail]:
    """What creating a request reads before it is refused: parties, templates, the trail."""
    templates = load_templates(BASE)
    trail = MemoryAuditTrail(lambda: 0.0)

    class _Context:
        public_base_url = BASE

    context: Any = _Context()
    context.templates = templates
    context.parties = load_relying_parties(templates)
    context.audit_trail = trail
    context.party = lambda verifier_id: context.parties[verifier_id]
    return cast(VerifierContext, context), trail


def _raw(*paths: list[Any]) -> dict[str, Any]:
    return {
        "credentials": [
            {
                "id": "national_id",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": [NATIONAL_ID_VCT]},
                "claims": [{"path": path} for path in paths],
            }
        ]
    }


def test_claim_paths_are_sorted_names_without_repeats() -> None:
    dcql = {
        "credentials": [
            {"id": "a", "claims": [{"path": ["given_name"]}, {"path": ["address", "locality"]}]},
            {"id": "b", "claims": [{"path": ["org.iso.18013.5.1", "age_over_18"]}]},
            {"id": "c", "claims": [{"path": ["nationalities", None]}, {"path": ["given_name"]}]},
            {"id": "d"},
        ]
    }
    assert requested_paths(dcql) == (
        "address/locality",
        "given_name",
        "nationalities/*",
        "org.iso.18013.5.1/age_over_18",
    )
    known = frozenset({"given_name", "address/locality"})
    assert requested_claims(dcql, known) == ("address/locality", "given_name", UNREGISTERED)


def test_junk_in_a_query_is_left_out() -> None:
    assert requested_paths({"credentials": "x"}) == ()
    assert requested_paths({"credentials": [{"claims": [{"path": [{"x": 1}]}, 3]}]}) == ()


def test_no_more_than_the_cap_of_claim_names_is_recorded() -> None:
    many = [[f"c{i:03d}"] for i in range(100)]
    known = frozenset(f"c{i:03d}" for i in range(100))
    assert len(requested_claims(_raw(*many), known)) == MAX_AUDITED_CLAIMS
    recorded = requested_claims(_raw(*many, ["elsewhere"]), known)
    assert len(recorded) == MAX_AUDITED_CLAIMS and recorded[-1] == UNREGISTERED


def test_a_raw_query_records_the_purpose_it_falls_within() -> None:
    context, _ = _context()
    facts = presentation_facts(context, COUNTER, _raw(["age_over_18"]), None)
    assert facts == {"claims": ("age_over_18",), "purpose": "age_over_18", "template": ""}
    assert "family_name" in known_claims(context, COUNTER)


def test_a_refused_raw_query_records_no_free_text_of_the_counter() -> None:
    """The counter's own paths (a name, a note, anything) never reach the trail, which is
    never erased: they are ``unregistered``."""
    context, trail = _context()
    query = _raw(["age_over_18"], ["Jane Doe, born 1990-01-01"], ["family_name"])
    with pytest.raises(Problem) as refused:
        asyncio.run(
            create_presentation_request(
                context, COUNTER, PresentationRequestOptions(dcql_query=query)
            )
        )
    assert refused.value.status == 422
    [entry] = trail.appended
    assert entry.action == "presentation.refused"
    assert entry.facts["claims"] == ("age_over_18", "family_name", UNREGISTERED)
    assert entry.facts["purpose"] == ""  # no registered purpose covers it
    assert "Jane" not in repr(entry)


def test_a_wallet_error_is_recorded_only_when_it_is_a_known_code() -> None:
    assert wallet_outcome("access_denied") == "access_denied"
    assert wallet_outcome("<script>") == "wallet_error"
    assert wallet_outcome(None) == "wallet_error"
