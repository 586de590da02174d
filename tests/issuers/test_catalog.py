"""The agencies' catalog: the demo agencies load; mistakes stop start-up with a reason;
a citizen's data is checked against the configuration before anything is offered."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bench.national_id import SUBJECT
from issuers.services.catalog import CATALOG_DIR, CatalogError, load_catalog, parse_agency
from issuers.services.subject_claims import InvalidSubjectClaims, check_subject_claims

CIVIL = json.loads((CATALOG_DIR / "civil-registry.json").read_text(encoding="utf-8"))
AGENCIES = load_catalog()
NATIONAL_ID = AGENCIES["civil-registry"].configurations["national_id"]
LICENCE = AGENCIES["transport-agency"].configurations["driving_licence"]

CITIZEN = dict(SUBJECT)  # the 12-claim national ID of the benchmark
DRIVER = {
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birthdate": "1964-08-12",
    "document_number": "B072RRE2I55",
    "driving_privileges": [
        {"vehicle_category_code": "B", "issue_date": "1982-09-01", "expiry_date": "2033-09-01"},
        {"vehicle_category_code": "A", "issue_date": "1990-05-15", "expiry_date": "2030-05-15"},
    ],
    "issuing_authority": "Transport Agency",
}


def test_demo_agencies_load() -> None:
    assert set(AGENCIES) == {"civil-registry", "transport-agency"}
    assert len(NATIONAL_ID.claims) == 13  # 12 claims, the address and its 4 parts counted apart
    assert ("address", "locality") in NATIONAL_ID.disclosable_paths
    assert ("driving_privileges", None) in LICENCE.disclosable_paths
    assert ("driving_privileges", None, "expiry_date") not in LICENCE.disclosable_paths


def _broken(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(CIVIL)
    change(document)
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(issuer_id="Civil Registry"), "issuer_id"),
        (lambda d: d.update(display=[{"locale": "de", "name": "x"}]), "English"),
        (lambda d: d["display"].append({"locale": "en", "name": "again"}), "twice"),
        (lambda d: d.update(credential_configurations={}), "at least one"),
        (
            lambda d: d["credential_configurations"]["national_id"].update(validity_days=0),
            "validity_days",
        ),
        (
            lambda d: d["credential_configurations"]["national_id"]["claims"].append(
                {"path": ["x"], "type": "colour"}
            ),
            "type",
        ),
        (
            lambda d: d["credential_configurations"]["national_id"]["claims"].append(
                {"path": ["vct"], "type": "string"}
            ),
            "vct",
        ),
        (
            lambda d: d["credential_configurations"]["national_id"]["claims"].append(
                {"path": ["given_name"], "type": "string"}
            ),
            "twice",
        ),
        (
            lambda d: d["credential_configurations"]["national_id"]["claims"].append(
                {"path": ["a", "b"], "type": "string"}
            ),
            "parent",
        ),
        (
            lambda d: d["credential_configurations"]["national_id"]["claims"].append(
                {"path": [], "type": "string"}
            ),
            "path",
        ),
        (lambda d: d.update(surprise=True), "surprise"),
    ],
)
def test_catalog_mistakes_are_named(change: Any, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_agency(_broken(change), source="civil-registry.json")


def test_a_broken_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"issuer_id": "x", "issuer_id": "y"}')
    with pytest.raises(CatalogError, match=r"broken\.json"):
        load_catalog(tmp_path)
    (tmp_path / "broken.json").unlink()
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(CIVIL))
    with pytest.raises(CatalogError, match="twice"):
        load_catalog(tmp_path)


def test_valid_subject_claims_pass_unchanged() -> None:
    assert check_subject_claims(NATIONAL_ID, CITIZEN) == CITIZEN
    assert check_subject_claims(LICENCE, DRIVER) == DRIVER
    without_address = {k: v for k, v in CITIZEN.items() if k != "address"}
    assert check_subject_claims(NATIONAL_ID, without_address) == without_address


@pytest.mark.parametrize(
    ("claims", "problem"),
    [
        ({**CITIZEN, "favourite_colour": "blue"}, "favourite_colour is not a claim"),
        ({k: v for k, v in CITIZEN.items() if k != "given_name"}, "given_name is required"),
        ({**CITIZEN, "birthdate": "12.08.1964"}, "birthdate must be a date"),
        ({**CITIZEN, "birthdate": "1964-02-30"}, "birthdate must be a date"),
        ({**CITIZEN, "age_over_18": "yes"}, "age_over_18 must be true or false"),
        ({**CITIZEN, "given_name": ""}, "given_name must be a non-empty string"),
        ({**CITIZEN, "address": {"planet": "Earth"}}, "address/planet is not a claim"),
        ({**CITIZEN, "address": "Köln"}, "address must be an object"),
        ({**CITIZEN, "vct": "urn:evil"}, "vct is not a claim"),
        ([], "JSON object"),
    ],
)
def test_invalid_subject_claims_are_named(claims: Any, problem: str) -> None:
    with pytest.raises(InvalidSubjectClaims) as raised:
        check_subject_claims(NATIONAL_ID, claims)
    assert any(problem in p for p in raised.value.problems), raised.value.problems


def test_array_elements_are_checked() -> None:
    bad = copy.deepcopy(DRIVER)
    bad["driving_privileges"][1]["expiry_date"] = "soon"
    del bad["driving_privileges"][0]["vehicle_category_code"]
    with pytest.raises(InvalidSubjectClaims) as raised:
        check_subject_claims(LICENCE, bad)
    assert "driving_privileges/1/expiry_date must be a date (YYYY-MM-DD)" in raised.value.problems
    assert "driving_privileges/0/vehicle_category_code is required" in raised.value.problems
    with pytest.raises(InvalidSubjectClaims, match="must not be empty"):
        check_subject_claims(LICENCE, {**DRIVER, "driving_privileges": []})
