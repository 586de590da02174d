"""Our wallet receives through the authorization code flow (OpenID4VCI 1.0 §3.4, HAIP 1.0
§4) from the deployment's own agencies: wallet-initiated and from an offer, with the
wallet attestation, PAR, PKCE and DPoP-bound tokens, and every redirect it must refuse.
The test client is the citizen's browser: it opens the authorization URL and hands the
redirect back, as the web wallet's callback page does."""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from litestar.testing import TestClient

from app.settings import Settings
from core.encoding import b64url_decode
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import operator_key
from tests.wallet.phone import Phone, payload_of

TRANSPORT = f"{PUBLIC_BASE_URL}/issuers/transport-agency"
CIVIL = f"{PUBLIC_BASE_URL}/issuers/civil-registry"
CALLBACK = f"{PUBLIC_BASE_URL}/wallet/callback"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, with the test authenticator: every citizen is demo-citizen."""
    return dataclasses.replace(settings, test_citizen="demo-citizen")


def _phone(client: TestClient[Any]) -> Phone:
    phone = Phone(client)
    phone.register()
    return phone


def _browse(client: TestClient[Any], url: str) -> str:
    """The citizen's browser at the authorization URL: where the agency sends it back."""
    answer = client.get(url, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return location


def _start(phone: Phone, issuer: str, config: str, **body: Any) -> dict[str, Any]:
    started = phone.post(
        "/wallet/issuances",
        {"credential_issuer": issuer, "credential_configuration_id": config, **body},
    )
    assert started.status_code == 201, started.text
    outcome: dict[str, Any] = started.json()
    assert outcome["status"] == "authorization_required"
    return outcome


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_the_citizen_asks_the_transport_agency_for_a_driving_licence(
    client: TestClient[Any],
) -> None:
    phone = _phone(client)
    listed = phone.get("/wallet/issuers")
    assert listed.status_code == 200, listed.text
    issuers = {i["credential_issuer"]: i for i in listed.json()["issuers"]}
    assert {TRANSPORT, CIVIL} <= set(issuers)
    transport = issuers[TRANSPORT]
    assert transport["available"] is True
    assert "driving_licence" in {c["credential_configuration_id"] for c in transport["credentials"]}

    outcome = _start(phone, TRANSPORT, "driving_licence")
    url = outcome["authorization_url"]
    # PAR (RFC 9126 §4): the browser carries only the client id and the request_uri
    assert set(_query(url)) == {"client_id", "request_uri"}
    redirect = _browse(client, url)
    assert _query(redirect)["iss"] == TRANSPORT

    received = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
    assert received.status_code == 200, received.text
    result = received.json()
    assert result["status"] == "received"
    assert result["offer_id"] == outcome["offer_id"]
    [credential] = result["credentials"]
    assert credential["credential_configuration_id"] == "driving_licence"
    shown = phone.get(f"/wallet/credentials/{credential['credential_id']}").json()
    assert shown["issuer"]["credential_issuer"] == TRANSPORT

    # the redirect is used: handing it again finds no issuance waiting for it
    again = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
    assert again.status_code == 400, again.text
    assert "received, not authorization_required" in again.json()["error_description"]


def test_keys_on_the_phone_sign_after_the_redirect(client: TestClient[Any]) -> None:
    phone = _phone(client)
    outcome = _start(phone, CIVIL, "national_id", custody="device")
    redirect = _browse(client, outcome["authorization_url"])
    listed = phone.get("/wallet/issuers").json()["issuers"]
    needed = next(
        c["holder_keys_needed"]
        for i in listed
        if i["credential_issuer"] == CIVIL
        for c in i["credentials"]
        if c["credential_configuration_id"] == "national_id"
    )
    answered = phone.post(
        "/wallet/issuances/authorized",
        {"redirect_url": redirect, "holder_keys": phone.new_holder_keys(needed)},
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "proofs_needed"
    requests = answered.json()["signing_requests"]
    # the national ID asks for key attestations: each proof carries one
    header = json.loads(b64url_decode(requests[0]["signing_input"].split(".")[0]))
    assert payload_of(header["key_attestation"])["attested_keys"] == [requests[0]["holder_key"]]
    completed = phone.post(
        f"/wallet/offers/{outcome['offer_id']}/complete",
        {"signatures": phone.sign_requests(requests)},
    )
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "received"


def test_a_redirect_without_iss_or_from_another_server_ends_the_issuance(
    client: TestClient[Any],
) -> None:
    phone = _phone(client)
    for tamper in ({"iss": None}, {"iss": CIVIL}):
        outcome = _start(phone, TRANSPORT, "driving_licence")
        redirect = _browse(client, outcome["authorization_url"])
        query = {k: v for k, v in {**_query(redirect), **tamper}.items() if v is not None}
        refused = phone.post(
            "/wallet/issuances/authorized", {"redirect_url": f"{CALLBACK}?{urlencode(query)}"}
        )
        assert refused.status_code == 422, refused.text
        # ended: the genuine redirect does not finish it afterwards
        late = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
        assert late.status_code == 400, late.text
        assert "failed, not authorization_required" in late.json()["error_description"]


def test_a_redirect_of_another_citizen_or_with_a_wrong_state_is_refused(
    client: TestClient[Any],
) -> None:
    phone, other = _phone(client), _phone(client)
    outcome = _start(phone, TRANSPORT, "driving_licence")
    redirect = _browse(client, outcome["authorization_url"])
    query = _query(redirect)
    # another citizen cannot finish it
    foreign = other.post("/wallet/issuances/authorized", {"redirect_url": redirect})
    assert foreign.status_code == 404, foreign.text
    # a forged secret leaves the issuance waiting
    flow_id = query["state"].split(".")[0]
    forged = {**query, "state": f"{flow_id}.forged"}
    wrong = phone.post(
        "/wallet/issuances/authorized", {"redirect_url": f"{CALLBACK}?{urlencode(forged)}"}
    )
    assert wrong.status_code == 422, wrong.text
    # not this deployment's redirect URI
    elsewhere = phone.post(
        "/wallet/issuances/authorized",
        {"redirect_url": redirect.replace("/wallet/callback", "/wallet/elsewhere")},
    )
    assert elsewhere.status_code == 422, elsewhere.text
    # named with another issuance id
    named = phone.post(
        "/wallet/issuances/authorized",
        {"redirect_url": redirect, "issuance_id": "00000000-0000-0000-0000-000000000000"},
    )
    assert named.status_code == 404, named.text
    # the genuine redirect still works
    done = phone.post(
        "/wallet/issuances/authorized",
        {"redirect_url": redirect, "issuance_id": outcome["offer_id"]},
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "received"


def test_an_error_from_the_issuer_is_passed_on(client: TestClient[Any]) -> None:
    phone = _phone(client)
    outcome = _start(phone, TRANSPORT, "driving_licence")
    redirect = _browse(client, outcome["authorization_url"])
    query = _query(redirect)
    denied = {
        "error": "access_denied",
        "error_description": "the citizen said no",
        "state": query["state"],
        "iss": query["iss"],
    }
    refused = phone.post(
        "/wallet/issuances/authorized", {"redirect_url": f"{CALLBACK}?{urlencode(denied)}"}
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "access_denied"
    assert "the citizen said no" in refused.json()["error_description"]


def test_a_clerks_online_offer_is_scanned_and_received_through_the_citizens_login(
    client: TestClient[Any],
) -> None:
    """The desk offers by online sign-in (grant authorization_code with issuer_state): the
    wallet shows the offer, accepting answers the URL, and the credential is the clerk's."""
    key = operator_key(client, "civil-registry")
    made = client.post(
        "/issuers/civil-registry/offers",
        json={
            "subject_id": "demo-citizen",
            "credential_configuration_id": "national_id",
            "claims": CITIZEN,
            "grant": "authorization_code",
        },
        headers={"Authorization": f"Bearer {key}"},
    )
    assert made.status_code == 201, made.text
    phone = _phone(client)
    scanned = phone.scan(made.json()["offer_uri"])
    assert scanned.status_code == 201, scanned.text
    offer = scanned.json()["offer"]
    assert offer["authorization_required"] is True and offer["tx_code"] is None
    accepted = phone.post(f"/wallet/offers/{offer['offer_id']}/accept", {"custody": "server"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "authorization_required"
    redirect = _browse(client, accepted.json()["authorization_url"])
    received = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
    assert received.status_code == 200, received.text
    [credential] = received.json()["credentials"]
    shown = phone.get(f"/wallet/credentials/{credential['credential_id']}").json()
    assert shown["claims"]["family_name"] == CITIZEN["family_name"]
    # the offer was redeemed: scanning it again finds it gone
    gone = phone.scan(made.json()["offer_uri"])
    assert gone.status_code == 410, gone.text
    assert gone.json()["error"] == "offer_unavailable"


def test_refused_issuances_are_in_the_activity_log(client: TestClient[Any]) -> None:
    phone = _phone(client)
    outcome = _start(phone, TRANSPORT, "driving_licence")
    redirect = _browse(client, outcome["authorization_url"])
    query = _query(redirect)
    denied = {"error": "access_denied", "state": query["state"], "iss": query["iss"]}
    phone.post("/wallet/issuances/authorized", {"redirect_url": f"{CALLBACK}?{urlencode(denied)}"})
    outcome = _start(phone, TRANSPORT, "driving_licence")
    redirect = _browse(client, outcome["authorization_url"])
    mixed_up = {**_query(redirect), "iss": CIVIL}
    phone.post(
        "/wallet/issuances/authorized", {"redirect_url": f"{CALLBACK}?{urlencode(mixed_up)}"}
    )
    entries = [e for e in phone.get("/wallet/activity").json()["activity"]]
    refused = [e for e in entries if e["kind"] == "issuance_refused"]
    assert [(e["error"], e["refused_by"]) for e in refused] == [
        ("invalid_request", "wallet"),
        ("access_denied", "issuer"),
    ]
    assert all(
        e["issuer"] == TRANSPORT and e["credentials"] == ["Driving licence"] for e in refused
    )
    assert phone.get("/wallet/credentials").json()["credentials"] == []


def test_a_second_issuance_uses_the_servers_nonce_without_asking_again(
    client: TestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    phone = _phone(client)
    for _ in range(2):
        caplog.clear()
        outcome = _start(phone, TRANSPORT, "driving_licence")
        redirect = _browse(client, outcome["authorization_url"])
        done = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
        assert done.status_code == 200, done.text
        token_answers = [
            r.getMessage().split()[2]
            for r in caplog.records
            if r.name == "idwallet.access" and "/token " in r.getMessage()
        ]
    # the first issuance was told the agency's nonce once; the second knew it
    assert token_answers == ["200"]


def test_two_agencies_of_one_origin_keep_their_own_nonces(
    client: TestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Each agency's DPoP nonces are its own (they are bound to its identifier): a wallet
    alternating between them must not offer one the other's."""
    phone = _phone(client)
    for issuer, config in [(TRANSPORT, "driving_licence"), (CIVIL, "national_id")] * 2:
        outcome = _start(phone, issuer, config)
        done = phone.post(
            "/wallet/issuances/authorized",
            {"redirect_url": _browse(client, outcome["authorization_url"])},
        )
        assert done.status_code == 200, done.text
    refused = [
        r.getMessage()
        for r in caplog.records
        if r.name == "idwallet.access" and "/token 400" in r.getMessage()
    ]
    # each agency hands its nonce with the pushed request's answer: a nonce offered to the
    # other agency would be refused (use_dpop_nonce)
    assert refused == []
