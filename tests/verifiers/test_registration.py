"""A counter's registered purpose that serves an issuance: read from the catalog
(``issuance``: the issuer as an agency id or an https identifier, and the credential
configurations it issues), refused at start-up when malformed, and attested in the
registration with the agency id resolved to the full credential issuer identifier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest

from app.factory import _check_issuance_statements
from app.settings import SettingsError
from issuers.services.catalog import load_catalog
from verifiers.domain import IssuanceService
from verifiers.services.catalog import (
    CATALOG_DIR,
    VerifierCatalogError,
    load_relying_parties,
    load_templates,
)
from verifiers.services.context import VerifierContext
from verifiers.services.registration import registration_claims

BASE = "https://id.example.gov"
ISSUER = f"{BASE}/issuers/transport-agency"


def _catalog(tmp_path: Path, issuance: Any) -> Path:
    (tmp_path / "templates.json").write_bytes((CATALOG_DIR / "templates.json").read_bytes())
    purpose: dict[str, Any] = {"description": [{"locale": "en", "text": "Before issuing"}]}
    if issuance is not None:
        purpose["issuance"] = issuance
    party = {
        "verifier_id": "agency-check",
        "organization": "Some Agency",
        "display": [{"locale": "en", "name": "Some Agency check"}],
        "purposes": {"identification": purpose},
    }
    (tmp_path / "agency-check.json").write_text(json.dumps(party))
    return tmp_path


def _context(parties: Any) -> VerifierContext:
    """Only what the registration claims read: the parties, templates and the URL."""

    class _Context:
        public_base_url = BASE
        templates = load_templates(BASE)

    context = _Context()
    context.parties = parties  # type: ignore[attr-defined]
    return cast(VerifierContext, context)


def test_the_transport_agencys_check_serves_its_driving_licences() -> None:
    parties = load_relying_parties(load_templates(BASE))
    purpose = parties["transport-agency-id-check"].purposes["identification"]
    assert purpose.issuance == IssuanceService(
        "transport-agency", ("driving_licence", "professional_driving_licence")
    )
    # the other counters serve no issuance
    assert all(
        p.issuance is None
        for party in parties.values()
        if party.verifier_id != "transport-agency-id-check"
        for p in party.purposes.values()
    )


def test_the_registration_names_the_full_issuer_identifier() -> None:
    parties = load_relying_parties(load_templates(BASE))
    party = parties["transport-agency-id-check"]
    claims = registration_claims(_context(parties), party, "x509_hash:abc", 1_700_000_000)
    [purpose] = claims["purposes"]
    assert purpose["id"] == "identification"
    assert purpose["issuance"] == {
        "credential_issuer": ISSUER,
        "credential_configuration_ids": ["driving_licence", "professional_driving_licence"],
    }
    bar = registration_claims(_context(parties), parties["bar-age-check"], "x", 0)
    assert all("issuance" not in p for p in bar["purposes"])


def test_an_https_issuer_of_another_deployment_is_attested_as_written(tmp_path: Path) -> None:
    foreign = "https://licences.example.org/issuer"
    directory = _catalog(
        tmp_path, {"credential_issuer": foreign, "credential_configuration_ids": ["licence"]}
    )
    parties = load_relying_parties(load_templates(BASE), directory)
    claims = registration_claims(_context(parties), parties["agency-check"], "x", 0)
    assert claims["purposes"][0]["issuance"]["credential_issuer"] == foreign


@pytest.mark.parametrize(
    "issuance",
    [
        {"credential_issuer": "transport-agency"},
        {"credential_issuer": "transport-agency", "credential_configuration_ids": []},
        {"credential_issuer": "Transport Agency", "credential_configuration_ids": ["x"]},
        {"credential_issuer": "http://plain.example", "credential_configuration_ids": ["x"]},
        {"credential_issuer": "https://a.example/?q=1", "credential_configuration_ids": ["x"]},
        {"credential_issuer": "transport-agency", "credential_configuration_ids": ["a", "a"]},
        {"credential_issuer": "transport-agency", "credential_configuration_ids": ["a b"]},
        {"credential_issuer": "transport-agency", "credential_configuration_ids": ["x"], "y": 1},
        {
            "credential_issuer": "transport-agency",
            "credential_configuration_ids": [f"c{i}" for i in range(21)],
        },
    ],
)
def test_a_malformed_issuance_statement_stops_start_up(tmp_path: Path, issuance: Any) -> None:
    with pytest.raises(VerifierCatalogError, match=r"agency-check\.json"):
        load_relying_parties(load_templates(BASE), _catalog(tmp_path, issuance))


@pytest.mark.parametrize(
    ("issuer", "configurations", "unknown"),
    [
        ("transport-agency", ["driving_licence", "boat_licence"], "boat_licence"),
        ("harbour-agency", ["boat_licence"], "boat_licence"),
    ],
)
def test_an_agency_or_credential_the_issuers_catalog_lacks_stops_start_up(
    tmp_path: Path, issuer: str, configurations: list[str], unknown: str
) -> None:
    directory = _catalog(
        tmp_path, {"credential_issuer": issuer, "credential_configuration_ids": configurations}
    )
    parties = load_relying_parties(load_templates(BASE), directory)
    with pytest.raises(SettingsError, match=unknown):
        _check_issuance_statements(load_catalog(), parties)


def test_the_demo_catalogs_agree() -> None:
    _check_issuance_statements(load_catalog(), load_relying_parties(load_templates(BASE)))
