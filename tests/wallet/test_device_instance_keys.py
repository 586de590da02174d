"""A phone that keeps its keys keeps the wallet instance's keys too (the attestation key
and the DPoP key of each issuance): every proof made with them is handed to the phone to
sign, step by step (``wallet.services.device_rounds``), and our agencies take them: the
pushed request's attestation PoP, the token request's PoP and DPoP proof, the credential
requests' DPoP proofs beside the holder keys' proofs, and the deferred credential's."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from litestar.testing import TestClient

from app.settings import Settings
from core.encoding import b64url_decode
from tests.wallet.phone import Phone
from tests.wallet.test_authorization_code import CIVIL, TRANSPORT, _browse
from tests.wallet.test_deferred_receipt import APPLICATIONS, _application, _clerk


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, with the test authenticator: every citizen is demo-citizen."""
    return dataclasses.replace(settings, test_citizen="demo-citizen")


def _part(signing_input: str, index: int) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(b64url_decode(signing_input.split(".")[index]))
    return value


def _round(phone: Phone, issuance_id: str, outcome: dict[str, Any]) -> dict[str, Any]:
    assert outcome["status"] == "proofs_needed", outcome
    completed = phone.post(
        f"/wallet/offers/{issuance_id}/complete",
        {"signatures": phone.sign_requests(outcome["signing_requests"])},
    )
    assert completed.status_code == 200, completed.text
    result: dict[str, Any] = completed.json()
    return result


def _start(phone: Phone, issuer: str, config: str, holder_keys: int) -> tuple[dict[str, Any], Any]:
    attestation, dpop = phone.new_holder_keys(2)
    started = phone.post(
        "/wallet/issuances",
        {
            "credential_issuer": issuer,
            "credential_configuration_id": config,
            "custody": "device",
            "holder_keys": phone.new_holder_keys(holder_keys),
            "instance_keys": {"attestation": attestation, "dpop": dpop},
        },
    )
    assert started.status_code == 201, started.text
    return started.json(), (attestation, dpop)


def test_the_phone_signs_every_proof_of_its_instance_keys(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    started, (attestation, dpop) = _start(phone, CIVIL, "national_id", 3)
    issuance = started["offer_id"]

    # 1. the pushed request: the attestation's proof of possession, by the phone's key
    [pop] = started["signing_requests"]
    assert pop["use"] == "client_attestation_pop" and pop["holder_key"] == attestation
    assert _part(pop["signing_input"], 1)["aud"] == CIVIL
    pushed = _round(phone, issuance, started)
    assert pushed["status"] == "authorization_required"
    redirect = _browse(client, pushed["authorization_url"])

    # 2. the token request: a fresh PoP and a DPoP proof of the phone's DPoP key
    answered = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
    assert answered.status_code == 200, answered.text
    token_round = answered.json()
    assert [r["use"] for r in token_round["signing_requests"]] == [
        "client_attestation_pop",
        "dpop",
    ]
    proof = token_round["signing_requests"][1]
    assert proof["holder_key"] == dpop and _part(proof["signing_input"], 0)["jwk"] == dpop
    assert _part(proof["signing_input"], 1)["htu"] == f"{CIVIL}/token"

    # 3. the credential request: the holder keys' proofs and the DPoP proofs with the
    # token's hash, in one round
    credentials_round = _round(phone, issuance, token_round)
    uses = [r["use"] for r in credentials_round["signing_requests"]]
    assert uses[:3] == ["key_proof"] * 3 and set(uses[3:]) == {"dpop"}
    assert all(
        "ath" in _part(r["signing_input"], 1)
        for r in credentials_round["signing_requests"]
        if r["use"] == "dpop"
    )
    received = _round(phone, issuance, credentials_round)
    assert received["status"] == "received"
    [credential] = received["credentials"]
    assert credential["instances"] == 3


def test_a_wrong_signature_leaves_the_step_waiting(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    started, _ = _start(phone, CIVIL, "national_id", 3)
    issuance = started["offer_id"]
    wrong = phone.post(
        f"/wallet/offers/{issuance}/complete",
        {"signatures": ["A" * 86]},
    )
    assert wrong.status_code == 400, wrong.text
    assert "does not verify" in wrong.json()["error_description"]
    assert _round(phone, issuance, started)["status"] == "authorization_required"


def test_instance_keys_are_only_the_phones(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    attestation, dpop = phone.new_holder_keys(2)
    refused = phone.post(
        "/wallet/issuances",
        {
            "credential_issuer": CIVIL,
            "credential_configuration_id": "national_id",
            "instance_keys": {"attestation": attestation, "dpop": dpop},
        },
    )
    assert refused.status_code == 400, refused.text
    assert "custody device" in refused.json()["error_description"]
    same = phone.post(
        "/wallet/issuances",
        {
            "credential_issuer": CIVIL,
            "credential_configuration_id": "national_id",
            "custody": "device",
            "instance_keys": {"attestation": attestation, "dpop": attestation},
        },
    )
    assert same.status_code == 400, same.text


def test_a_deferred_licence_is_asked_for_by_the_phone(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    started, _ = _start(phone, TRANSPORT, "professional_driving_licence", 3)
    issuance = started["offer_id"]
    pushed = _round(phone, issuance, started)
    answered = phone.post(
        "/wallet/issuances/authorized",
        {"redirect_url": _browse(client, pushed["authorization_url"])},
    )
    pending = _round(phone, issuance, _round(phone, issuance, answered.json()))
    assert pending["status"] == "pending"
    [listed] = phone.get("/wallet/issuances").json()["issuances"]
    assert listed["issuance_id"] == issuance and listed["fetch_by_phone"] is True

    approved = client.post(f"{APPLICATIONS}/{_application(client)}/approve", headers=_clerk(client))
    assert approved.status_code in (200, 204), approved.text
    asked = phone.post(f"/wallet/issuances/{issuance}/fetch")
    assert asked.status_code == 200, asked.text
    deferred_round = asked.json()
    assert {r["use"] for r in deferred_round["signing_requests"]} == {"dpop"}
    wrong = phone.post(f"/wallet/offers/{issuance}/complete", {"signatures": ["A" * 86]})
    assert wrong.status_code == 400, wrong.text
    # still listed while the phone signs, a wrong signature too
    assert [i["issuance_id"] for i in phone.get("/wallet/issuances").json()["issuances"]] == [
        issuance
    ]
    arrived = _round(phone, issuance, deferred_round)
    assert arrived["status"] == "received"
    [licence] = arrived["credentials"]
    assert licence["credential_configuration_id"] == "professional_driving_licence"
    assert phone.get("/wallet/issuances").json()["issuances"] == []
