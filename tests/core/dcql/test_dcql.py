"""DCQL: the spec's queries parse; validation errors are clear; the matcher follows §6.4."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.claim_paths import ClaimPathError, parse_claim_path, select
from core.dcql.match import CandidateCredential, match_credential, match_query
from core.dcql.parse import DcqlError, parse_dcql_query

DATA = json.loads(
    (Path(__file__).parents[2] / "vectors" / "dcql" / "openid4vp_queries.json").read_text()
)
QUERIES = DATA["queries"]
PID = "https://credentials.example.com/identity_credential"


def test_claims_path_pointer_example_of_section_7_4() -> None:
    example = DATA["claims_path_example"]
    for pointer in example["pointers"]:
        assert (
            select(example["credential"], parse_claim_path(pointer["path"])) == pointer["selected"]
        )


@pytest.mark.parametrize(
    "path",
    [[], ["a", -1], ["a", 1.5], ["a", True], "name", [{"x": 1}], ["a"] * 17],
)
def test_malformed_pointers(path: object) -> None:
    with pytest.raises(ClaimPathError):
        parse_claim_path(path)


def test_pointer_processing_errors() -> None:
    credential = DATA["claims_path_example"]["credential"]
    with pytest.raises(ClaimPathError):
        select(credential, ("name", "first"))  # a key into a string
    with pytest.raises(ClaimPathError):
        select(credential, ("address", None))  # all elements of an object
    with pytest.raises(ClaimPathError):
        select(credential, ("nationalities", 5))  # selects nothing
    with pytest.raises(ClaimPathError):
        select(credential, ("missing",))


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_spec_query_parses(name: str) -> None:
    query = parse_dcql_query(QUERIES[name]["query"])
    assert query.credentials
    assert parse_dcql_query(query.to_json()) == query


def _cred(cid: str, claims: dict[str, Any], vct: str = PID, **options: Any) -> CandidateCredential:
    return CandidateCredential(id=cid, format="dc+sd-jwt", claims=claims, vct=vct, **options)


PERSON = {
    "last_name": "Doe",
    "first_name": "John",
    "address": {"street_address": "123 Main St"},
    "postal_code": "90210",
    "locality": "Anytown",
    "region": "Anystate",
    "date_of_birth": "1940-01-01",
}


def test_simple_query_matches_and_names_the_claims_to_disclose() -> None:
    result = match_query(parse_dcql_query(QUERIES["simple"]["query"]), [_cred("c1", PERSON)])
    assert result.satisfied
    (match,) = result.candidates["my_credential"]
    assert match.claim_paths == (("last_name",), ("first_name",), ("address", "street_address"))


def test_wrong_vct_or_missing_claim_does_not_match() -> None:
    query = parse_dcql_query(QUERIES["simple"]["query"])
    assert not match_query(query, [_cred("c1", PERSON, vct="urn:other")]).satisfied
    without_street = {**PERSON, "address": {}}
    assert not match_query(query, [_cred("c1", without_street)]).satisfied


def test_claim_sets_choose_the_first_satisfiable_option() -> None:
    query = parse_dcql_query(QUERIES["claims_alternatives"]["query"])
    full = match_query(query, [_cred("c1", PERSON)])
    assert full.candidates["pid"][0].claim_paths == (
        ("last_name",),
        ("locality",),
        ("region",),
        ("date_of_birth",),
    )
    no_region = {k: v for k, v in PERSON.items() if k != "region"}
    second = match_query(query, [_cred("c1", no_region)])
    assert second.candidates["pid"][0].claim_paths == (
        ("last_name",),
        ("postal_code",),
        ("date_of_birth",),
    )
    nothing = {k: v for k, v in no_region.items() if k != "postal_code"}
    assert not match_query(query, [_cred("c1", nothing)]).satisfied


def test_value_matching_is_exact_in_type_and_value() -> None:
    query = parse_dcql_query(QUERIES["value_matching_simple"]["query"])
    assert match_query(query, [_cred("c1", PERSON)]).satisfied
    assert not match_query(query, [_cred("c1", {**PERSON, "last_name": "Smith"})]).satisfied
    assert not match_query(query, [_cred("c1", {**PERSON, "postal_code": 90210})]).satisfied


def test_values_distinguish_true_from_one() -> None:
    query = parse_dcql_query(
        {
            "credentials": [
                {
                    "id": "age",
                    "format": "dc+sd-jwt",
                    "meta": {"vct_values": [PID]},
                    "claims": [{"path": ["age_over_18"], "values": [True]}],
                }
            ]
        }
    )
    assert match_query(query, [_cred("c", {"age_over_18": True})]).satisfied
    assert not match_query(query, [_cred("c", {"age_over_18": 1})]).satisfied


def test_credential_sets_required_and_optional() -> None:
    query = parse_dcql_query(QUERIES["credentials_alternatives"]["query"])
    reduced_1 = _cred(
        "r1",
        {"family_name": "Doe", "given_name": "John"},
        vct="https://credentials.example.com/reduced_identity_credential",
    )
    reduced_2 = _cred(
        "r2",
        {"postal_code": "1", "locality": "x", "region": "y"},
        vct="https://cred.example/residence_credential",
    )
    rewards = _cred("rw", {"rewards_number": 7}, vct="https://company.example/company_rewards")
    result = match_query(query, [reduced_1, reduced_2])
    assert result.satisfied
    assert result.selected_queries == ("pid_reduced_cred_1", "pid_reduced_cred_2")
    with_optional = match_query(query, [reduced_1, reduced_2, rewards])
    assert with_optional.selected_queries == (
        "pid_reduced_cred_1",
        "pid_reduced_cred_2",
        "nice_to_have",
    )
    assert not match_query(query, [reduced_1, rewards]).satisfied


def test_multiple_returns_every_match() -> None:
    raw = {
        "credentials": [
            {"id": "ids", "format": "dc+sd-jwt", "multiple": True, "meta": {"vct_values": [PID]}},
        ]
    }
    query = parse_dcql_query(raw)
    result = match_query(query, [_cred("a", {}), _cred("b", {})])
    assert [m.credential_id for m in result.default_presentation({"ids": True})["ids"]] == [
        "a",
        "b",
    ]
    assert [m.credential_id for m in result.default_presentation({})["ids"]] == ["a"]


def test_holder_binding_and_trusted_authorities() -> None:
    raw = {
        "credentials": [
            {
                "id": "pid",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": [PID]},
                "trusted_authorities": [{"type": "aki", "values": ["s9tIpPmhxdiuNkHMEWNpYim8S8Y"]}],
            }
        ]
    }
    query = parse_dcql_query(raw)
    trusted = _cred("a", {}, authority_key_identifiers=frozenset({"s9tIpPmhxdiuNkHMEWNpYim8S8Y"}))
    assert match_credential(query.credentials[0], trusted) is not None
    assert match_credential(query.credentials[0], _cred("b", {})) is None
    unbound = _cred(
        "c", {}, holder_binding=False, authority_key_identifiers=trusted.authority_key_identifiers
    )
    assert match_credential(query.credentials[0], unbound) is None


def test_vct_inheritance_matches() -> None:
    query = parse_dcql_query(QUERIES["simple"]["query"])
    child = _cred("c", PERSON, vct="https://national.example/pid", vct_ancestors=(PID,))
    assert match_query(query, [child]).satisfied


def _query(credential: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"credentials": [credential], **top}


BASE = {"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [PID]}}


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"credentials": []},
        {"credentials": "pid"},
        _query({**BASE, "id": "has space"}),
        _query({**BASE, "id": ""}),
        {"credentials": [BASE, BASE]},
        _query({k: v for k, v in BASE.items() if k != "meta"}),
        _query({**BASE, "meta": {}}),
        _query({**BASE, "meta": {"vct_values": []}}),
        _query({**BASE, "meta": {"vct_values": [1]}}),
        _query({**BASE, "format": "mso_mdoc", "meta": {}}),
        _query({**BASE, "claims": []}),
        _query({**BASE, "claims": [{"path": []}]}),
        _query({**BASE, "claims": [{"path": ["a", -1]}]}),
        _query({**BASE, "claims": [{"path": ["a"], "values": []}]}),
        _query({**BASE, "claims": [{"path": ["a"], "values": [1.5]}]}),
        _query({**BASE, "claims": [{"path": ["a"], "values": [None]}]}),
        _query({**BASE, "claims": [{"path": ["a"]}, {"path": ["a"]}]}),
        _query({**BASE, "claims": [{"id": "x", "path": ["a"]}, {"id": "x", "path": ["b"]}]}),
        _query({**BASE, "claims": [{"path": ["a"]}], "claim_sets": [["x"]]}),
        _query({**BASE, "claims": [{"id": "x", "path": ["a"]}], "claim_sets": [["y"]]}),
        _query({**BASE, "claims": [{"id": "x", "path": ["a"]}], "claim_sets": [[]]}),
        _query({**BASE, "claim_sets": [["x"]]}),
        _query({**BASE, "claims": None}),
        _query({**BASE, "multiple": "yes"}),
        _query({**BASE, "trusted_authorities": []}),
        _query({**BASE, "trusted_authorities": [{"type": "aki", "values": []}]}),
        _query(BASE, credential_sets=[]),
        _query(BASE, credential_sets=[{"options": []}]),
        _query(BASE, credential_sets=[{"options": [["other"]]}]),
        _query(BASE, credential_sets=[{"options": [[]]}]),
    ],
)
def test_invalid_queries_are_clear_errors(raw: object) -> None:
    with pytest.raises(DcqlError):
        parse_dcql_query(raw)


def test_wallets_ignore_duplicate_claim_queries() -> None:
    raw = _query({**BASE, "claims": [{"path": ["a"]}, {"path": ["a"]}]})
    query = parse_dcql_query(raw, strict=False)
    assert len(query.credentials[0].claims) == 1  # type: ignore[arg-type]


def test_unknown_members_are_ignored() -> None:
    query = parse_dcql_query({**_query({**BASE, "future": 1}), "extension": {"x": 1}})
    assert query.credentials[0].id == "pid"


json_scalars = st.one_of(st.booleans(), st.integers(-1000, 1000), st.text(max_size=8))
claims_strategy = st.dictionaries(
    st.text(alphabet="abcdefgh", min_size=1, max_size=5),
    st.one_of(
        json_scalars,
        st.dictionaries(st.text(alphabet="xyz", min_size=1, max_size=3), json_scalars, max_size=3),
    ),
    min_size=1,
    max_size=6,
)


def _leaf_paths(claims: dict[str, Any]) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in claims.items():
        if isinstance(value, dict) and value:
            paths.extend((key, sub) for sub in value)
        else:
            paths.append((key,))
    return paths


@settings(max_examples=100, deadline=None)
@given(claims_strategy, st.data())
def test_a_query_built_from_a_credentials_own_claims_matches_it(
    claims: dict[str, Any], data: st.DataObject
) -> None:
    paths = data.draw(st.lists(st.sampled_from(_leaf_paths(claims)), min_size=1, unique=True))
    with_values = data.draw(st.booleans())
    claim_queries = []
    for path in paths:
        entry: dict[str, Any] = {"path": list(path)}
        value = select(claims, path)[0]
        if with_values and isinstance(value, str | int | bool):
            entry["values"] = [value]
        claim_queries.append(entry)
    query = parse_dcql_query(_query({**BASE, "claims": claim_queries}))
    credential = _cred("own", claims)
    match = match_query(query, [credential])
    assert match.satisfied
    assert set(match.candidates["pid"][0].claim_paths) == set(paths)
    # remove one required claim: the query no longer matches
    removed = data.draw(st.sampled_from(paths))
    reduced = json.loads(json.dumps(claims))
    if len(removed) == 1:
        del reduced[removed[0]]
    else:
        del reduced[removed[0]][removed[1]]
    assert not match_query(query, [_cred("own", reduced)]).satisfied


def test_an_mdoc_query_matches_its_doctype_and_elements() -> None:
    """B.2.2-B.2.4: ``doctype_value`` against the mdoc's docType, claims by namespace and
    element, ``intent_to_retain`` kept for the consent view."""
    query = parse_dcql_query(
        {
            "credentials": [
                {
                    "id": "mdl",
                    "format": "mso_mdoc",
                    "meta": {"doctype_value": "org.iso.18013.5.1.mDL"},
                    "claims": [
                        {"path": ["org.iso.18013.5.1", "age_over_18"], "values": [True]},
                        {"path": ["org.iso.18013.5.1", "portrait"], "intent_to_retain": True},
                    ],
                }
            ]
        }
    )
    assert query.credentials[0].claims[1].intent_to_retain is True  # type: ignore[index]
    elements = {"org.iso.18013.5.1": {"age_over_18": True, "portrait": b"\x89PNG"}}
    licence = CandidateCredential(
        "licence", "mso_mdoc", elements, vct=None, doctype="org.iso.18013.5.1.mDL"
    )
    match = match_credential(query.credentials[0], licence)
    assert match is not None and match.claim_paths == (
        ("org.iso.18013.5.1", "age_over_18"),
        ("org.iso.18013.5.1", "portrait"),
    )
    other = CandidateCredential(
        "pid", "mso_mdoc", elements, vct=None, doctype="eu.europa.ec.eudi.pid.1"
    )
    assert match_credential(query.credentials[0], other) is None
    under18 = CandidateCredential(
        "young",
        "mso_mdoc",
        {"org.iso.18013.5.1": {"age_over_18": False, "portrait": b""}},
        doctype="org.iso.18013.5.1.mDL",
    )
    assert match_credential(query.credentials[0], under18) is None
    sd_jwt = CandidateCredential("sd", "dc+sd-jwt", elements, doctype="org.iso.18013.5.1.mDL")
    assert match_credential(query.credentials[0], sd_jwt) is None
