"""The agencies' catalog: the demo agencies load; mistakes stop start-up with a reason;
a citizen's data is checked against the configuration before anything is offered."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.national_id import SUBJECT
from issuers.domain import KeyAttestationRequirement
from issuers.services.catalog import (
    CATALOG_DIR,
    MAX_IMAGE_BYTES,
    CatalogError,
    load_catalog,
    parse_agency,
)
from issuers.services.subject_claims import InvalidSubjectClaims, check_subject_claims

CIVIL = json.loads((CATALOG_DIR / "civil-registry.json").read_text(encoding="utf-8"))
AGENCIES = load_catalog()
NATIONAL_ID = AGENCIES["civil-registry"].configurations["national_id"]
LICENCE = AGENCIES["transport-agency"].configurations["driving_licence"]

PNG = "civil-registry.png"
SVG_DATA_URL = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4="

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


def _require_attestations(document: dict[str, Any], **requirement: Any) -> None:
    national_id = document["credential_configurations"]["national_id"]
    national_id["key_attestations_required"] = requirement


def _require_approval(document: dict[str, Any], reasons: Any = "every", **more: Any) -> None:
    national_id = document["credential_configurations"]["national_id"]
    if reasons == "every":
        reasons = [{"locale": d["locale"], "text": "Check"} for d in national_id["display"]]
    national_id.update(approval_required=True, approval_reason=reasons, **more)


#: A presentation login that fits the civil registry's national ID.
_LOGIN = {"verifier": "id-check", "template": "identification", "match": {"sub": "given_name"}}


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
        (lambda d: d.update(eid_login={"subject_claim": "a claim"}), "not a claim name"),
        (lambda d: d.update(eid_login={"issuer": "eid.example"}), "issuer URL"),
        (
            lambda d: d.update(eid_login={"client_secret_variable": "hunter2 is my secret"}),
            "never the secret itself",
        ),
        (lambda d: d.update(eid_login={"login": "yes"}), "login"),
        (
            lambda d: d["credential_configurations"]["national_id"].update(eid_acr_values=[]),
            "eid_acr_values",
        ),
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
        (
            lambda d: d["display"][0].update(logo={"uri": SVG_DATA_URL}),
            "en: a logo uri must be an absolute https URL .* data:image/svg",
        ),
        (lambda d: d["display"][0].update(logo={"uri": "http://x.example/a.png"}), "https"),
        (lambda d: d["display"][0].update(logo={"uri": "https:///a.png"}), "https"),
        (
            lambda d: d["display"][0].update(logo={"uri": "https://x.example/a.png", "image": PNG}),
            "exactly one of uri and image",
        ),
        (lambda d: d["display"][0].update(logo={"alt_text": "x"}), "exactly one"),
        (
            lambda d: d["display"][1].update(logo={"image": "../registers/civil-registry.json"}),
            "de: logo image '../registers/civil-registry.json' must be a file name of images/",
        ),
        (lambda d: d["display"][0].update(logo={"image": "emblem.svg"}), "ending in .png"),
        (lambda d: d["display"][0].update(logo={"image": "missing.png"}), "cannot be read"),
        (
            lambda d: _require_attestations(d, key_storage=[]),
            "national_id: key_attestations_required.key_storage needs at least one level",
        ),
        (
            lambda d: _require_attestations(d, key_storage=["iso_18045_high", "iso_18045_high"]),
            "key_storage lists a level twice",
        ),
        (
            lambda d: _require_attestations(d, user_authentication=["iso_18045_hgh"]),
            "user_authentication: 'iso_18045_hgh' is not a level; use iso_18045_high",
        ),
        (
            lambda d: _require_attestations(d, key_storage=["http://levels.example/high"]),
            "is not a level",
        ),
        (lambda d: _require_attestations(d, key_storage="iso_18045_high"), "key_storage"),
        (lambda d: _require_attestations(d, device="secure"), "device"),
        (lambda d: _require_approval(d, reasons=None), "approval_required needs approval_reason"),
        (lambda d: _require_approval(d, reasons=[]), "approval_required needs approval_reason"),
        (
            lambda d: _require_approval(d, reasons=[{"locale": "en", "text": "Check"}]),
            "national_id: approval_reason needs de, fr too",
        ),
        (
            lambda d: _require_approval(
                d, reasons=[{"locale": loc, "text": " "} for loc in ("en", "de", "fr")]
            ),
            "empty",
        ),
        (
            lambda d: _require_approval(d, reasons=[{"locale": "en", "text": "a"}] * 2),
            "twice",
        ),
        (
            lambda d: d["credential_configurations"]["national_id"].update(
                approval_reason=[{"locale": "en", "text": "Check"}]
            ),
            "approval_reason goes with approval_required: true",
        ),
        (lambda d: d.update(deferred_issuance={"interval": 0}), "deferred_issuance.interval"),
        (
            lambda d: d.update(deferred_issuance={"application_lifetime_days": 400}),
            "application_lifetime_days",
        ),
        (lambda d: d.update(deferred_issuance={"every": 5}), "every"),
        (
            lambda d: d.update(presentation_login={**_LOGIN, "verifier": "Id Check"}),
            "presentation_login.verifier",
        ),
        (
            lambda d: d.update(presentation_login={**_LOGIN, "match": {}}),
            "presentation_login.match needs at least one",
        ),
        (
            lambda d: d.update(presentation_login={**_LOGIN, "match": {"given name": "x"}}),
            "maps claim names to claim names",
        ),
        (
            lambda d: d.update(presentation_login={**_LOGIN, "match": {"given_name": "nickname"}}),
            "national_id has no top-level claim 'nickname'",
        ),
        (
            lambda d: d.update(presentation_login={"verifier": "id-check", "match": {"a": "b"}}),
            "template",
        ),
        (
            lambda d: d.update(register_display=[{"locale": "de", "name": "Melderegister"}]),
            "register_display needs English",
        ),
        (
            lambda d: d.update(
                register_display=[{"locale": "en", "name": "A"}, {"locale": "EN", "name": "B"}]
            ),
            "register_display: a locale appears twice",
        ),
        (
            lambda d: d.update(register_display=[{"locale": "en", "name": " "}]),
            "register_display: a name is empty",
        ),
        (lambda d: d.update(register_display=[{"locale": "en"}]), "name"),
    ],
)
def test_catalog_mistakes_are_named(change: Any, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_agency(_broken(change), source="civil-registry.json")


def test_a_configuration_may_wait_for_a_clerk() -> None:
    agency = parse_agency(_broken(_require_approval), source="civil-registry.json")
    national_id = agency.configurations["national_id"]
    assert national_id.approval_required and agency.defers_issuance
    assert [r.locale for r in national_id.approval_reason] == ["en", "de", "fr"]
    assert agency.deferred_issuance.interval == 3600  # the default, where the agency says none
    assert not NATIONAL_ID.approval_required and not AGENCIES["civil-registry"].defers_issuance
    transport = AGENCIES["transport-agency"]
    professional = transport.configurations["professional_driving_licence"]
    assert professional.approval_required and not LICENCE.approval_required
    assert "medical certificate" in professional.approval_reason[0].text
    assert transport.deferred_issuance.interval == 300
    assert transport.deferred_issuance.application_lifetime == 14 * 86400


def test_the_national_id_requires_key_attestations_and_the_licence_none() -> None:
    # any level: the national ID is issued only to keys a trusted wallet provider attests
    assert NATIONAL_ID.key_attestations_required == KeyAttestationRequirement()
    assert LICENCE.key_attestations_required is None


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ({}, KeyAttestationRequirement()),
        (
            {"key_storage": ["iso_18045_high", "iso_18045_moderate"]},
            KeyAttestationRequirement(key_storage=("iso_18045_high", "iso_18045_moderate")),
        ),
        (
            {
                "key_storage": ["iso_18045_enhanced-basic"],
                "user_authentication": ["https://ecosystem.example/user-authentication/strong"],
            },
            KeyAttestationRequirement(
                key_storage=("iso_18045_enhanced-basic",),
                user_authentication=("https://ecosystem.example/user-authentication/strong",),
            ),
        ),
    ],
)
def test_a_configuration_may_require_key_attestations(
    requirement: dict[str, Any], expected: KeyAttestationRequirement
) -> None:
    agency = parse_agency(
        _broken(lambda d: _require_attestations(d, **requirement)), source="civil-registry.json"
    )
    assert agency.configurations["national_id"].key_attestations_required == expected


def test_every_display_of_the_demo_agencies_has_a_png_logo() -> None:
    for agency in AGENCIES.values():
        displays = [
            *agency.display,
            *(d for c in agency.configurations.values() for d in c.display),
        ]
        assert {d.locale for d in displays} == {"en", "de", "fr"}
        for display in displays:
            assert display.logo is not None and display.logo.image is not None
            assert display.logo.image.name == f"{agency.issuer_id}.png"
            assert display.logo.image.media_type == "image/png"
            assert display.logo.alt_text


def test_an_https_logo_hosted_elsewhere_is_kept() -> None:
    uri = "https://cdn.example.gov/civil-registry/logo.png"
    agency = parse_agency(
        _broken(lambda d: d["display"][0].update(logo={"uri": uri, "alt_text": "Emblem"})),
        source="civil-registry.json",
    )
    assert agency.display[0].logo is not None
    assert (agency.display[0].logo.uri, agency.display[0].logo.image) == (uri, None)


def _catalog_with_image(directory: Path, content: bytes, name: str = PNG) -> None:
    (directory / "images").mkdir()
    (directory / "images" / name).write_bytes(content)
    document = copy.deepcopy(CIVIL)
    configurations = document["credential_configurations"].values()
    for display in [*document["display"], *(d for c in configurations for d in c["display"])]:
        display["logo"] = {"image": name, "alt_text": "Emblem"}
    (directory / "civil-registry.json").write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', PNG, "is not a PNG or JPEG file"),
        (b"GIF89a" + bytes(40), PNG, "is not a PNG or JPEG file"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), PNG, "is not a PNG or JPEG file"),  # no IHDR
        (b"\xff\xd8\xff\xe0" + bytes(40) + b"\xff\xd9", PNG, "is image/jpeg, not what its name"),
        ((CATALOG_DIR / "images" / PNG).read_bytes(), "emblem.jpg", "is image/png, not what"),
        (
            (CATALOG_DIR / "images" / PNG).read_bytes() + bytes(MAX_IMAGE_BYTES),
            PNG,
            f"is larger than {MAX_IMAGE_BYTES} bytes",
        ),
    ],
)
def test_a_logo_image_that_is_not_a_small_png_or_jpeg_stops_start_up(
    tmp_path: Path, content: bytes, name: str, message: str
) -> None:
    _catalog_with_image(tmp_path, content, name)
    where = r"civil-registry\.json: national_id: en"
    with pytest.raises(
        CatalogError, match=rf"{where}: logo image images/{re.escape(name)} {message}"
    ):
        load_catalog(tmp_path)


def test_a_jpeg_logo_image_loads(tmp_path: Path) -> None:
    _catalog_with_image(tmp_path, b"\xff\xd8\xff\xe0" + bytes(40) + b"\xff\xd9", "emblem.jpeg")
    logo = load_catalog(tmp_path)["civil-registry"].display[0].logo
    assert logo is not None and logo.image is not None
    assert logo.image.media_type == "image/jpeg"


def test_a_broken_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"issuer_id": "x", "issuer_id": "y"}')
    with pytest.raises(CatalogError, match=r"broken\.json"):
        load_catalog(tmp_path)
    (tmp_path / "broken.json").unlink()
    shutil.copytree(CATALOG_DIR / "images", tmp_path / "images")  # the logos they name
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


def test_wallet_attestations_are_asked_for_online_issuance_by_default() -> None:
    """HAIP 1.0 §4: the authorization code flow asks wallets to attest; the pre-authorized
    code flow asks only where the agency says so."""
    demo = parse_agency(copy.deepcopy(CIVIL), source="civil-registry.json")
    assert demo.attestation_for_authorization_code is True
    assert demo.attestation_for_pre_authorized_code is False
    stricter = parse_agency(
        _broken(
            lambda d: d.update(
                wallet_attestation_required={
                    "authorization_code": True,
                    "pre-authorized_code": True,
                }
            )
        ),
        source="civil-registry.json",
    )
    assert stricter.attestation_for_pre_authorized_code is True
    with pytest.raises(CatalogError, match="wallet_attestation_required"):
        parse_agency(
            _broken(lambda d: d.update(wallet_attestation_required={"implicit": True})),
            source="civil-registry.json",
        )


def test_encryption_is_required_only_where_the_catalog_says_so() -> None:
    """OpenID4VCI 1.0 §10: wallets may encrypt; an agency may require it."""
    demo = parse_agency(copy.deepcopy(CIVIL), source="civil-registry.json")
    assert demo.encryption_required is False
    stricter = parse_agency(
        _broken(lambda d: d.update(credential_encryption={"required": True})),
        source="civil-registry.json",
    )
    assert stricter.encryption_required is True
    for wrong in ({"required": "yes"}, {"requested": True}, True):
        with pytest.raises(CatalogError, match="credential_encryption"):
            parse_agency(
                _broken(lambda d, wrong=wrong: d.update(credential_encryption=wrong)),
                source="civil-registry.json",
            )


def test_the_transport_agency_identifies_citizens_by_their_national_id() -> None:
    """Presentation during issuance: the agency's own counter and check, and the claims
    of the presented national ID that find the citizen's records in its register."""
    agencies = load_catalog()
    login = agencies["transport-agency"].presentation_login
    assert login is not None and login.verifier_id == "transport-agency-id-check"
    assert login.template == "identification"
    assert dict(login.match) == {
        "given_name": "given_name",
        "family_name": "family_name",
        "birthdate": "birthdate",
    }
    assert agencies["civil-registry"].presentation_login is None


def test_the_transport_agency_allows_the_eid_login_as_well() -> None:
    """Both ways: the citizen chooses where the eID provider is configured."""
    agencies = load_catalog()
    transport = agencies["transport-agency"]
    assert transport.presentation_login is not None
    assert transport.eid_login is not None and transport.eid_login.subject_claim == (
        "personal_number"
    )


def test_each_demo_agency_names_its_register_in_english_and_german() -> None:
    for agency in load_catalog().values():
        names = {display.locale: display.name for display in agency.register_display}
        assert {"en", "de"} <= set(names), agency.issuer_id
    assert (
        parse_agency(_broken(lambda d: d.pop("register_display")), source="x.json").register_display
        == ()
    )
