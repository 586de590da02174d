"""One-time credentials whose keys the phone keeps: the housekeeping cannot sign new key
proofs with them, so the credential is listed ``renewal_due`` and the phone asks for the
fresh batch (``POST /wallet/credentials/{id}/renew``), signing the token renewal's proofs
where the instance keys are its own and the new holder keys' proofs, round by round. The
rotated refresh token is kept as soon as the civil registry hands it out, so a renewal
the phone leaves half done does not end the credential's renewals."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from litestar.testing import TestClient

from app.settings import Settings
from tests.wallet.phone import Phone
from tests.wallet.test_authorization_code import CIVIL, _browse
from tests.wallet.test_device_instance_keys import _round, _start
from tests.wallet.test_one_time_credentials import _national_id, _present, _renew, _shown


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, with the test authenticator: every citizen is demo-citizen."""
    return dataclasses.replace(settings, test_citizen="demo-citizen")


def _national_id_on_phone(
    client: TestClient[Any], *, instance_keys: bool = True
) -> tuple[Phone, str]:
    """A national ID received with every key on the phone (or only its holder keys)."""
    phone = Phone(client)
    phone.register()
    if instance_keys:
        started, _ = _start(phone, CIVIL, "national_id", 3)
        pushed = _round(phone, started["offer_id"], started)
    else:
        answered = phone.post(
            "/wallet/issuances",
            {
                "credential_issuer": CIVIL,
                "credential_configuration_id": "national_id",
                "custody": "device",
                "holder_keys": phone.new_holder_keys(3),
            },
        )
        assert answered.status_code == 201, answered.text
        pushed = answered.json()
    assert pushed["status"] == "authorization_required", pushed
    returned = phone.post(
        "/wallet/issuances/authorized",
        {"redirect_url": _browse(client, pushed["authorization_url"])},
    )
    assert returned.status_code == 200, returned.text
    outcome = returned.json()
    while outcome["status"] == "proofs_needed":
        outcome = _round(phone, outcome["offer_id"], outcome)
    assert outcome["status"] == "received", outcome
    return phone, outcome["credentials"][0]["credential_id"]


def _ask_renewal(phone: Phone, credential_id: str, keys: int = 3) -> dict[str, Any]:
    asked = phone.post(
        f"/wallet/credentials/{credential_id}/renew", {"holder_keys": phone.new_holder_keys(keys)}
    )
    assert asked.status_code == 200, asked.text
    result: dict[str, Any] = asked.json()
    return result


def _signed_through(phone: Phone, outcome: dict[str, Any]) -> dict[str, Any]:
    while outcome["status"] == "proofs_needed":
        outcome = _round(phone, outcome["offer_id"], outcome)
    return outcome


def test_the_phone_renews_what_only_it_can_sign_for(client: TestClient[Any]) -> None:
    phone, credential_id = _national_id_on_phone(client)
    shown = _shown(phone, credential_id)
    assert (shown["use_policy"], shown["renewed_by"], shown["fresh_instances"]) == (
        "one_time",
        "phone",
        3,
    )
    assert shown["renewal_due"] is False
    _present(client, phone)
    _present(client, phone)
    listed = phone.get("/wallet/credentials").json()["credentials"]
    assert [(c["fresh_instances"], c["renewal_due"], c["holder_keys_needed"]) for c in listed] == [
        (1, True, 3)
    ]
    assert _renew(client) == 0  # the housekeeping leaves it to the phone

    # the token renewal: the attestation's PoP and a DPoP proof, by the phone's keys
    token_round = _ask_renewal(phone, credential_id)
    assert token_round["status"] == "proofs_needed"
    assert [r["use"] for r in token_round["signing_requests"]] == [
        "client_attestation_pop",
        "dpop",
    ]
    # then the new holder keys' proofs with the credential request's DPoP proofs
    credentials_round = _round(phone, token_round["offer_id"], token_round)
    uses = [r["use"] for r in credentials_round["signing_requests"]]
    assert uses[:3] == ["key_proof"] * 3 and set(uses[3:]) == {"dpop"}
    renewed = _round(phone, credentials_round["offer_id"], credentials_round)
    assert renewed["status"] == "received"
    assert [(c["credential_id"], c["instances"]) for c in renewed["credentials"]] == [
        (credential_id, 4)
    ]
    shown = _shown(phone, credential_id)
    assert (shown["instances"], shown["fresh_instances"], shown["renewal_due"]) == (4, 4, False)
    assert shown["status"] == "valid" and shown["claims"]["family_name"]
    assert len(phone.get("/wallet/credentials").json()["credentials"]) == 1

    # the next renewal takes the refresh token the last one was handed
    for _ in range(3):
        _present(client, phone)
    assert _signed_through(phone, _ask_renewal(phone, credential_id))["status"] == "received"
    shared = [
        entry["shared"][0]
        for entry in phone.get("/wallet/activity").json()["activity"]
        if entry["kind"] == "presentation_sent"
    ]
    assert len({s["instance"] for s in shared}) == 5 and not any(s.get("linkable") for s in shared)


def test_holder_keys_on_the_phone_with_the_instance_keys_here(client: TestClient[Any]) -> None:
    phone, credential_id = _national_id_on_phone(client, instance_keys=False)
    assert _shown(phone, credential_id)["renewed_by"] == "phone"
    _present(client, phone)
    _present(client, phone)
    assert _renew(client) == 0
    asked = _ask_renewal(phone, credential_id)
    # the token was renewed here: only the new holder keys' proofs are the phone's
    assert [r.get("use", "key_proof") for r in asked["signing_requests"]] == ["key_proof"] * 3
    renewed = _round(phone, asked["offer_id"], asked)
    assert renewed["credentials"][0]["instances"] == 4


def test_a_renewal_left_half_done_does_not_end_the_renewals(client: TestClient[Any]) -> None:
    phone, credential_id = _national_id_on_phone(client)
    _present(client, phone)
    _present(client, phone)
    token_round = _ask_renewal(phone, credential_id)
    credentials_round = _round(phone, token_round["offer_id"], token_round)
    assert credentials_round["status"] == "proofs_needed"  # the phone went away here
    # the refresh token was rotated by the first; its successor was kept with the credential
    renewed = _signed_through(phone, _ask_renewal(phone, credential_id))
    assert renewed["status"] == "received"
    assert _shown(phone, credential_id)["fresh_instances"] == 4


def test_what_cannot_be_renewed_by_the_phone(client: TestClient[Any]) -> None:
    phone, credential_id = _national_id_on_phone(client)
    fewer = phone.post(
        f"/wallet/credentials/{credential_id}/renew", {"holder_keys": phone.new_holder_keys(2)}
    )
    assert fewer.status_code == 400 and "3 holder keys" in fewer.json()["error_description"]
    private = phone.post(
        f"/wallet/credentials/{credential_id}/renew",
        {"holder_keys": [{**phone.new_holder_keys(1)[0], "d": "AAAA"}, *phone.new_holder_keys(2)]},
    )
    assert private.status_code == 400, private.text
    unknown = phone.post(
        "/wallet/credentials/no-such-credential/renew", {"holder_keys": phone.new_holder_keys(3)}
    )
    assert unknown.status_code == 404
    # nothing was asked of the issuer: the credential is as it was
    assert _shown(phone, credential_id)["fresh_instances"] == 3

    # keys this service holds: the housekeeping renews, the phone cannot
    other, held_here = _national_id(client)
    assert _shown(other, held_here)["renewed_by"] == "wallet_service"
    refused = other.post(
        f"/wallet/credentials/{held_here}/renew", {"holder_keys": other.new_holder_keys(3)}
    )
    assert refused.status_code == 400
    assert "by itself" in refused.json()["error_description"]
