"""The wallet with an issuer and a verifier that are not ours (``stand_ins``: the reference
``sd-jwt`` package and PyJWT behind a small HTTP server), in both custody modes; and the
holder's checks on receipt (SECURITY-CASES W05): a credential whose chain leads to an
unknown root, that carries a KB-JWT, or that is bound to another key is refused and
nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app.settings import Settings
from tests.wallet.phone import Phone
from tests.wallet.stand_ins import StandIns, running_stand_ins, settings_with_stand_ins


@pytest.fixture
def stand_ins() -> Iterator[StandIns]:
    with running_stand_ins() as running:
        yield running


@pytest.fixture
def settings(var_dir: Path, database_url: str, stand_ins: StandIns) -> Settings:
    settings: Settings = settings_with_stand_ins(var_dir, database_url, stand_ins)
    return settings


@pytest.mark.parametrize("custody", ["server", "device"])
def test_receive_from_and_present_to_strangers(
    client: TestClient[Any], stand_ins: StandIns, custody: str
) -> None:
    phone = Phone(client)
    phone.register()
    received = phone.receive(stand_ins.offer_uri(), custody=custody)
    assert received["credentials"][0]["name"] == "Stand-in PID"
    assert [n["event"] for n in stand_ins.notifications] == ["credential_accepted"]
    listed = phone.get("/wallet/credentials").json()["credentials"]
    assert listed[0]["issuer"]["name"] == "Stand-in Issuer" and listed[0]["status"] == "valid"

    uri, request_id = stand_ins.request_uri()
    consent = phone.scan(uri).json()["presentation"]
    assert consent["verifier"]["authenticated"] is True
    assert consent["verifier"]["name"] == "Stand-in Verifier"
    assert consent["verifier"]["claimed_name"] == "Stand-in Verifier (self-declared)"
    assert consent["verifier"]["claimed_name_verified"] is False
    result = phone.approve(consent["presentation_id"])
    assert result["outcome"] == "accepted", result
    [payload] = stand_ins.results[request_id]
    assert payload["age_over_18"] is True
    assert "given_name" not in payload and "birthdate" not in payload

    credential_id = listed[0]["credential_id"]
    deleted = phone.delete(f"/wallet/credentials/{credential_id}").json()
    assert deleted["issuer_notified"] is True
    assert stand_ins.notifications[-1]["event"] == "credential_deleted"
    assert phone.get(f"/wallet/credentials/{credential_id}").status_code == 404


@pytest.mark.parametrize("mode", ["untrusted_chain", "kb_attached", "foreign_cnf"])
def test_w05_a_credential_the_wallet_cannot_trust_is_not_stored(
    client: TestClient[Any], stand_ins: StandIns, mode: str
) -> None:
    phone = Phone(client)
    phone.register()
    stand_ins.issuer_mode = mode
    offer = phone.scan(stand_ins.offer_uri()).json()["offer"]
    refused = phone.post(f"/wallet/offers/{offer['offer_id']}/accept", {"custody": "server"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "invalid_credential"
    assert phone.get("/wallet/credentials").json()["credentials"] == []
    assert [n["event"] for n in stand_ins.notifications] == ["credential_failure"]
    kinds = [a["kind"] for a in phone.get("/wallet/activity").json()["activity"]]
    assert "credential_received" not in kinds


def _claims_query(*names: str) -> dict[str, Any]:
    return {
        "credentials": [
            {
                "id": "pid",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": ["urn:example:stand-in:pid"]},
                "claims": [{"path": [name]} for name in names],
            }
        ]
    }


@pytest.mark.parametrize(
    ("registration", "claims", "purpose", "warning"),
    [
        ("trusted", ("age_over_18",), "Checking you are an adult", None),
        ("trusted", ("age_over_18", "given_name"), None, "beyond_registration"),
        ("rogue", ("age_over_18",), None, "registration_invalid"),
        (None, ("age_over_18",), None, None),
    ],
)
def test_a_verifier_registration_is_believed_only_when_attested(
    client: TestClient[Any],
    stand_ins: StandIns,
    registration: str | None,
    claims: tuple[str, ...],
    purpose: str | None,
    warning: str | None,
) -> None:
    phone = Phone(client)
    phone.register()
    phone.receive(stand_ins.offer_uri())
    stand_ins.registration = registration
    uri, _ = stand_ins.request_uri(dcql=_claims_query(*claims))
    consent = phone.scan(uri).json()["presentation"]
    assert consent["verifier"]["registered"] is (registration == "trusted"), consent["warnings"]
    assert (consent["purpose"] or {}).get("description") == purpose
    kinds = [w.split(":")[0] for w in consent["warnings"]]
    assert kinds == ([warning] if warning else [])
    if warning == "beyond_registration":
        assert "given_name" in consent["warnings"][0]


@pytest.mark.parametrize(
    ("registration", "claims", "shown"),
    [
        ("trusted", ("age_over_18",), True),
        # beyond the registration: no registered purpose covers the request
        ("trusted", ("age_over_18", "given_name"), False),
        # the same statement, signed by a registrar this wallet does not trust
        ("rogue", ("age_over_18",), False),
    ],
)
def test_only_a_verified_registration_says_a_presentation_serves_an_issuance(
    client: TestClient[Any],
    stand_ins: StandIns,
    registration: str,
    claims: tuple[str, ...],
    shown: bool,
) -> None:
    phone = Phone(client)
    phone.register()
    phone.receive(stand_ins.offer_uri())
    stand_ins.registration = registration
    stand_ins.registration_issuance = {
        "credential_issuer": stand_ins.base,
        "credential_configuration_ids": ["pid"],
    }
    uri, _ = stand_ins.request_uri(dcql=_claims_query(*claims))
    consent = phone.scan(uri).json()["presentation"]
    if not shown:
        assert "issuance" not in consent, consent
        return
    assert consent["purpose"]["description"] == "Checking you are an adult"
    # nothing of this citizen waits there and no listing was read: the identifier and id
    assert consent["issuance"] == {
        "credential_issuer": stand_ins.base,
        "issuer_name": stand_ins.base,
        "credentials": [
            {"credential_configuration_id": "pid", "name": "pid", "awaiting_authorization": False}
        ],
        "awaiting_authorization": False,
        "statement": f"{stand_ins.base} asks for this in order to issue you pid",
    }


@pytest.mark.parametrize(
    ("redirect", "followed"),
    [
        ("https://verifier.example/done?session=1", True),
        ("eu.example.citizen-app://presentation-done", True),
        ("https://id.example.gov/same-device/back", True),
        ("javascript:alert(document.cookie)", False),
        ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", False),
        ("http://verifier.example/done", False),
        ("eu.other.app://done", False),
        ("https://verifier.example/" + "a" * 3000, False),
    ],
)
def test_only_https_and_listed_app_redirects_are_followed(
    client: TestClient[Any], stand_ins: StandIns, redirect: str, followed: bool
) -> None:
    """A verifier's ``redirect_uri`` was passed to the phone whatever its scheme, and the
    web wallet assigned it to ``location``."""
    phone = Phone(client)
    phone.register()
    phone.receive(stand_ins.offer_uri())
    stand_ins.redirect_uri = redirect
    uri, _ = stand_ins.request_uri()
    consent = phone.scan(uri).json()["presentation"]
    result = phone.approve(consent["presentation_id"])
    assert result["outcome"] == "accepted", result
    if followed:
        assert result["redirect_uri"] == redirect and "redirect_refused" not in result
        return
    assert "redirect_uri" not in result
    assert "does not open" in result["redirect_refused"]
    activity = phone.get("/wallet/activity").json()["activity"]
    shared = next(a for a in activity if a["kind"] == "presentation_sent")
    assert shared["redirect_refused"] == redirect.partition(":")[0]
    assert redirect not in json.dumps(activity)


def test_a_lost_credential_response_is_fetched_again(
    client: TestClient[Any], stand_ins: StandIns
) -> None:
    """The issuer issued and the connection dropped before its answer arrived: the wallet
    repeats the same request and stores what the issuer kept for it."""
    phone = Phone(client)
    phone.register()
    stand_ins.issuer_mode = "drops_first_answer"
    received = phone.receive(stand_ins.offer_uri())
    assert received["credentials"][0]["name"] == "Stand-in PID"
    assert stand_ins.credential_requests == 2
    assert phone.get("/wallet/credentials").json()["credentials"][0]["status"] == "valid"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"vp_formats_supported": ["dc+sd-jwt"]}, "client_metadata is malformed: $.vp_formats"),
        ({"jwks": {"keys": "none"}}, "client_metadata is malformed: $.jwks.keys"),
        ({"vp_formats_supported": {"mso_mdoc": {}}}, "does not accept dc+sd-jwt"),
    ],
    ids=["formats-not-an-object", "keys-not-a-list", "no-sd-jwt"],
)
def test_a_verifier_whose_metadata_breaks_section_11_1_is_refused_before_consent(
    client: TestClient[Any], stand_ins: StandIns, change: dict[str, Any], said: str
) -> None:
    phone = Phone(client)
    phone.register()
    stand_ins.client_metadata_changes = change
    uri, _ = stand_ins.request_uri()
    refused = phone.scan(uri)
    assert refused.status_code == 422, refused.text
    assert said in refused.json()["error_description"]


def test_the_verifier_name_is_shown_in_the_citizens_language(
    client: TestClient[Any], stand_ins: StandIns
) -> None:
    phone = Phone(client)
    phone.register()
    stand_ins.client_metadata_changes = {"client_name#de": "Stellvertretende Prüfstelle"}
    uri, _ = stand_ins.request_uri()
    scanned = phone.client.post(
        "/wallet/scans",
        json={"uri": uri},
        headers={**phone.headers, "Accept-Language": "de"},
    )
    assert scanned.status_code == 201, scanned.text
    verifier = scanned.json()["presentation"]["verifier"]
    assert verifier["claimed_name"] == "Stellvertretende Prüfstelle"
