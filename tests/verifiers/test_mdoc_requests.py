"""Asking for mdocs (OpenID4VP 1.0 §6, Appendix B.2.1-B.2.4): the templates offer the PID
and the driving licence in either format through ``credential_sets``, the mdoc queries
name their ``doctype_value``, claims by ``[namespace, element]`` and ``intent_to_retain``
where the template says the counter keeps the element; the over-asking guard holds raw
``mso_mdoc`` DCQL to the registration (types, elements, retention); the registration
attested to wallets lists the mdoc credentials; the template catalog refuses malformed
mdoc entries at start-up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.verifiers.mdoc_presenter import MDL, MDL_NS, PID
from tests.verifiers.presenter import counter_key, create_request, fetch_request
from tests.verifiers.test_registration import _context
from verifiers.services.catalog import (
    CATALOG_DIR,
    VerifierCatalogError,
    load_relying_parties,
    load_templates,
)
from verifiers.services.registration import registration_claims

BASE = "https://id.example.gov"


def test_the_driving_entitlement_check_takes_the_licence_in_either_format(
    client: TestClient[Any],
) -> None:
    created = create_request(client, "city-hall-counter", template="driving_entitlement")
    request = fetch_request(client, created["uri"])
    query = request.payload["dcql_query"]
    assert query["credential_sets"] == [
        {"options": [["driving_licence"], ["mobile_driving_licence"]]}
    ]
    sd_jwt, mdoc = query["credentials"]
    assert sd_jwt["format"] == "dc+sd-jwt" and sd_jwt["id"] == "driving_licence"
    assert mdoc == {
        "id": "mobile_driving_licence",
        "format": "mso_mdoc",
        "meta": {"doctype_value": MDL},
        "claims": [
            {"path": [MDL_NS, "given_name"], "intent_to_retain": True},
            {"path": [MDL_NS, "family_name"], "intent_to_retain": True},
            {"path": [MDL_NS, "driving_privileges"]},
        ],
    }
    formats = request.payload["client_metadata"]["vp_formats_supported"]
    assert formats["mso_mdoc"] == {
        "issuerauth_alg_values": [-9, -7],
        "deviceauth_alg_values": [-9, -7],
    }


@pytest.mark.parametrize(
    ("verifier_id", "template", "elements"),
    [
        ("bar-age-check", "age_over_18", ["age_over_18"]),
        (
            "city-hall-counter",
            "identity",
            ["given_name", "family_name", "birth_date", "nationality"],
        ),
        (
            "bank-kyc",
            "identity",
            ["given_name", "family_name", "birth_date", "nationality", "document_number"],
        ),
    ],
)
def test_the_pid_checks_take_the_pid_in_either_format(
    client: TestClient[Any], verifier_id: str, template: str, elements: list[str]
) -> None:
    created = create_request(client, verifier_id, template=template)
    query = created["dcql_query"]
    assert query["credential_sets"] == [{"options": [["national_id"], ["national_id_mdoc"]]}]
    [mdoc] = [q for q in query["credentials"] if q["format"] == "mso_mdoc"]
    assert mdoc["meta"] == {"doctype_value": PID}
    assert [c["path"] for c in mdoc["claims"]] == [[PID, e] for e in elements]
    assert not any("intent_to_retain" in c for c in mdoc["claims"])


def _raw(client: TestClient[Any], verifier_id: str, query: dict[str, Any]) -> Any:
    return client.post(
        f"/verifiers/{verifier_id}/presentations",
        json={"dcql_query": query},
        headers={"Authorization": f"Bearer {counter_key(client, verifier_id)}"},
    )


def _mdoc_query(doctype: str, *paths: list[str], retain: bool = False) -> dict[str, Any]:
    claims = [{"path": p, **({"intent_to_retain": True} if retain else {})} for p in paths]
    return {
        "credentials": [
            {"id": "m", "format": "mso_mdoc", "meta": {"doctype_value": doctype}, "claims": claims}
        ]
    }


def test_raw_mdoc_dcql_is_held_to_the_registration(client: TestClient[Any]) -> None:
    within = _raw(
        client, "city-hall-counter", _mdoc_query(MDL, [MDL_NS, "family_name"], retain=True)
    )
    assert within.status_code == 201, within.text
    refusals = {
        "birth_date of the mDL": (
            "city-hall-counter",
            _mdoc_query(MDL, [MDL_NS, "birth_date"]),
            "not registered to ask for the claim",
        ),
        "keeping the licence's categories": (
            "city-hall-counter",
            _mdoc_query(MDL, [MDL_NS, "driving_privileges"], retain=True),
            "not registered to keep the claim",
        ),
        "the bar asking a name": (
            "bar-age-check",
            _mdoc_query(PID, [PID, "family_name"]),
            "not registered to ask for the claim",
        ),
        "the bar asking the mDL": (
            "bar-age-check",
            _mdoc_query(MDL, [MDL_NS, "age_over_18"]),
            f"not registered for credentials of type {MDL}",
        ),
        "an element in another name space": (
            "bar-age-check",
            _mdoc_query(PID, [MDL_NS, "age_over_18"]),
            "not registered to ask for the claim",
        ),
    }
    for case, (verifier_id, query, reason) in refusals.items():
        refused = _raw(client, verifier_id, query)
        assert refused.status_code == 422, (case, refused.text)
        assert reason in refused.json()["detail"], (case, refused.json())
    malformed = _raw(client, "bar-age-check", _mdoc_query(PID, ["age_over_18"]))
    assert malformed.status_code == 400
    assert "namespace and element" in malformed.json()["detail"]


def test_the_registration_lists_the_mdoc_credentials() -> None:
    parties = load_relying_parties(load_templates(BASE))
    context = _context(parties)
    city_hall = registration_claims(context, parties["city-hall-counter"], "x509_hash:abc", 0)
    [driving] = [p for p in city_hall["purposes"] if p["id"] == "driving_entitlement"]
    assert driving["credentials"][1] == {
        "format": "mso_mdoc",
        "doctype_value": MDL,
        "claims": [[MDL_NS, "given_name"], [MDL_NS, "family_name"], [MDL_NS, "driving_privileges"]],
        "intent_to_retain": [[MDL_NS, "family_name"], [MDL_NS, "given_name"]],
    }
    assert driving["credentials"][0]["format"] == "dc+sd-jwt"
    bank = registration_claims(context, parties["bank-kyc"], "x509_hash:abc", 0)
    [identity] = bank["purposes"]
    sd_jwt, mdoc = identity["credentials"]
    assert ["document_number"] in sd_jwt["claims"] and [PID, "document_number"] in mdoc["claims"]


def _templates_with(tmp_path: Path, credential: dict[str, Any], **template: Any) -> Path:
    templates = json.loads((CATALOG_DIR / "templates.json").read_text())
    templates["probe"] = {
        "display": [{"locale": "en", "name": "Probe"}],
        "credentials": [credential],
        **template,
    }
    (tmp_path / "templates.json").write_text(json.dumps(templates))
    return tmp_path


@pytest.mark.parametrize(
    ("credential", "template", "problem"),
    [
        (
            {"id": "m", "format": "mso_mdoc", "claims": [[PID, "age_over_18"]]},
            {},
            "names its doctype_value",
        ),
        (
            {"id": "m", "format": "mso_mdoc", "doctype_value": PID, "claims": [["age_over_18"]]},
            {},
            "[namespace, element]",
        ),
        (
            {"id": "m", "vct_values": ["urn:x"], "doctype_value": PID, "claims": [["a"]]},
            {},
            "doctype_value and intent_to_retain are for mso_mdoc",
        ),
        (
            {
                "id": "m",
                "format": "mso_mdoc",
                "doctype_value": PID,
                "claims": [[PID, "age_over_18"]],
                "intent_to_retain": [[PID, "family_name"]],
            },
            {},
            "intent_to_retain names claims it does not ask for",
        ),
        (
            {"id": "m", "format": "mso_mdoc", "doctype_value": PID, "claims": [[PID, "a"]]},
            {"credential_sets": [{"options": [["other"]]}]},
            "credential_sets option",
        ),
        (
            {"id": "m", "format": "jwt_vc_json", "vct_values": ["urn:x"], "claims": [["a"]]},
            {},
            "format",
        ),
    ],
)
def test_a_malformed_mdoc_template_stops_start_up(
    tmp_path: Path, credential: dict[str, Any], template: dict[str, Any], problem: str
) -> None:
    with pytest.raises(VerifierCatalogError) as refused:
        load_templates(BASE, _templates_with(tmp_path, credential, **template))
    assert problem in str(refused.value)
