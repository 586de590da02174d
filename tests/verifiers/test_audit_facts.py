"""What the audit trail records of a counter's requests (``verifiers.services.audit_facts``)."""

from __future__ import annotations

from verifiers.services.audit_facts import presentation_facts, requested_claims, wallet_outcome


def test_claim_paths_are_sorted_names_without_repeats() -> None:
    dcql = {
        "credentials": [
            {"id": "a", "claims": [{"path": ["given_name"]}, {"path": ["address", "locality"]}]},
            {"id": "b", "claims": [{"path": ["org.iso.18013.5.1", "age_over_18"]}]},
            {"id": "c", "claims": [{"path": ["nationalities", None]}, {"path": ["given_name"]}]},
            {"id": "d"},
        ]
    }
    assert requested_claims(dcql) == (
        "address/locality",
        "given_name",
        "nationalities/*",
        "org.iso.18013.5.1/age_over_18",
    )
    assert presentation_facts(dcql, None)["template"] == ""


def test_junk_in_a_query_is_left_out() -> None:
    assert requested_claims({"credentials": "x"}) == ()
    assert requested_claims({"credentials": [{"claims": [{"path": [{"x": 1}]}, 3]}]}) == ()


def test_a_wallet_error_is_recorded_only_when_it_is_a_known_code() -> None:
    assert wallet_outcome("access_denied") == "access_denied"
    assert wallet_outcome("<script>") == "wallet_error"
    assert wallet_outcome(None) == "wallet_error"
