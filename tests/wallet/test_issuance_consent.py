"""Presentation during issuance as the consent view says it: the registered purpose of the
transport agency's identity check states (in the registrar's signed registration) that it
serves the agency's issuance of its driving licences, so the wallet shows which agency
asks in order to issue which credential, and whether an issuance this citizen started
there waits for that step. Through the mobile API end to end (the citizen starts the
issuance, the agency's page asks this same wallet, the citizen approves, the licence
arrives), and in parts: the statement as read from a registration, the context from what
the wallet knows of the issuer."""

from __future__ import annotations

import time
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar.testing import TestClient

from core.clock import FixedClock
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.issuers.test_issuance import create_offer
from tests.wallet.phone import Phone
from wallet.services.context import WalletContext
from wallet.services.holding_messages import IssuableCredential, KnownIssuer
from wallet.services.issuance_context import WaitingIssuance, issuance_context
from wallet.services.registration import (
    IssuanceStatement,
    issuance_statement,
    registered_purpose,
)

TRANSPORT = f"{PUBLIC_BASE_URL}/issuers/transport-agency"
CALLBACK = f"{PUBLIC_BASE_URL}/wallet/callback"
DESCRIPTION = (
    "Finding your driving licence in the agency's register before issuing it to your wallet"
)


def _holding_national_id(client: TestClient[Any], language: str = "en") -> Phone:
    phone = Phone(client)
    phone.language = language
    phone.register()
    phone.receive(create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"])
    return phone


def _agency_page(client: TestClient[Any], authorization_url: str) -> str:
    """The citizen's browser at the authorization URL: the agency's page asking for the
    national ID."""
    sent = client.get(authorization_url, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    location = urlsplit(sent.headers["location"])
    assert location.path.startswith("/issuers/transport-agency/presentation-login/"), location
    assert client.get(location.path).status_code == 200
    return location.path


def _same_device_consent(phone: Phone, client: TestClient[Any], page: str) -> dict[str, Any]:
    asked = client.post(f"{page}/same-device")
    assert asked.status_code == 200, asked.text
    # this deployment's web wallet is the redirect URI: the link opens its page
    link = urlsplit(asked.json()["link"])
    assert link.path == "/wallet-app", link
    scanned = phone.scan(parse_qs(link.fragment)["request"][0])
    assert scanned.status_code == 201, scanned.text
    consent: dict[str, Any] = scanned.json()["presentation"]
    return consent


def test_the_agencys_page_asks_the_wallet_whose_issuance_waits_for_it(
    client: TestClient[Any],
) -> None:
    phone = _holding_national_id(client)
    started = phone.post(
        "/wallet/issuances",
        {"credential_issuer": TRANSPORT, "credential_configuration_id": "driving_licence"},
    )
    assert started.status_code == 201, started.text
    assert started.json()["status"] == "authorization_required"
    page = _agency_page(client, started.json()["authorization_url"])

    consent = _same_device_consent(phone, client, page)
    assert consent["verifier"]["name"] == "Transport Agency" and consent["warnings"] == []
    # the registered purpose stays as it was
    assert consent["purpose"] == {"id": "identification", "description": DESCRIPTION}
    assert consent["issuance"] == {
        "credential_issuer": TRANSPORT,
        "issuer_name": "Transport Agency",
        "credentials": [
            {
                "credential_configuration_id": "driving_licence",
                "name": "Driving licence",
                "awaiting_authorization": True,
            },
            # not asked for by this citizen, and no listing read: named by its id
            {
                "credential_configuration_id": "professional_driving_licence",
                "name": "professional_driving_licence",
                "awaiting_authorization": False,
            },
        ],
        "awaiting_authorization": True,
        "statement": "Transport Agency asks for this in order to issue you Driving licence"
        ", which you asked it for and which waits for this step",
    }

    # the citizen approves as for any presentation; the licence arrives
    result = phone.approve(consent["presentation_id"])
    assert result["outcome"] == "accepted", result
    response_code = parse_qs(urlsplit(result["redirect_uri"]).fragment)["response_code"][0]
    back = client.get(
        f"{page}/complete", params={"response_code": response_code}, follow_redirects=False
    )
    assert back.status_code == 303 and back.headers["location"].startswith(CALLBACK + "?")
    received = phone.post(
        "/wallet/issuances/authorized", {"redirect_url": back.headers["location"]}
    )
    assert received.status_code == 200, received.text
    [licence] = received.json()["credentials"]
    shown = phone.get(f"/wallet/credentials/{licence['credential_id']}").json()
    assert shown["claims"]["document_number"] == DRIVER["document_number"]


def test_a_wallet_that_started_nothing_there_reads_the_registration_and_its_listing(
    client: TestClient[Any],
) -> None:
    """Another wallet started the issuance (here: this citizen's, started over again in
    German after a listing was read): nothing waits in the wallet asked, so it names the
    issuer and credentials from what it knows otherwise."""
    phone = _holding_national_id(client, "de")
    other = _holding_national_id(client)
    started = other.post(
        "/wallet/issuances",
        {"credential_issuer": TRANSPORT, "credential_configuration_id": "driving_licence"},
    )
    page = _agency_page(client, started.json()["authorization_url"])

    consent = _same_device_consent(phone, client, page)
    issuance = consent["issuance"]
    assert issuance["awaiting_authorization"] is False
    # no listing read yet: the registered organization, and the configuration ids
    assert issuance["issuer_name"] == "Transport Agency"
    assert [c["name"] for c in issuance["credentials"]] == [
        "driving_licence",
        "professional_driving_licence",
    ]
    assert issuance["statement"] == (
        "Transport Agency asks for this in order to issue you driving_licence or "
        "professional_driving_licence"
    )
    assert (
        phone.post(f"/wallet/presentations/{consent['presentation_id']}/decline").status_code == 200
    )

    assert phone.get("/wallet/issuers").status_code == 200  # the listing, in German
    again = other.post(
        "/wallet/issuances",
        {"credential_issuer": TRANSPORT, "credential_configuration_id": "driving_licence"},
    )
    page = _agency_page(client, again.json()["authorization_url"])
    issuance = _same_device_consent(phone, client, page)["issuance"]
    assert issuance["issuer_name"] == "Verkehrsbehörde"
    assert [c["name"] for c in issuance["credentials"]] == [
        "Führerschein",
        "Führerschein für Lkw und Bus",
    ]


# -- the statement, as read from a verified registration ----------------------------------

_AGE = {"format": "dc+sd-jwt", "vct_values": ["urn:vct:id"], "claims": [["age_over_18"]]}
_NAME = {"format": "dc+sd-jwt", "vct_values": ["urn:vct:id"], "claims": [["given_name"]]}
_STATEMENT = {
    "credential_issuer": TRANSPORT,
    "credential_configuration_ids": ["driving_licence"],
}


def _dcql(claim: str) -> dict[str, Any]:
    return {
        "credentials": [
            {
                "id": "id",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": ["urn:vct:id"]},
                "claims": [{"path": [claim]}],
            }
        ]
    }


@pytest.mark.parametrize(
    "raw",
    [
        {"credential_issuer": TRANSPORT},
        {"credential_issuer": TRANSPORT, "credential_configuration_ids": []},
        {"credential_issuer": TRANSPORT, "credential_configuration_ids": "driving_licence"},
        {"credential_issuer": "transport-agency", "credential_configuration_ids": ["x"]},
        {"credential_issuer": "javascript:alert(1)//x", "credential_configuration_ids": ["x"]},
        {"credential_issuer": f"{TRANSPORT}?x=1", "credential_configuration_ids": ["x"]},
        {"credential_issuer": TRANSPORT, "credential_configuration_ids": ["x"] * 21},
        {"credential_issuer": TRANSPORT, "credential_configuration_ids": ["x" * 101]},
        {**_STATEMENT, "more": True},
        "transport-agency",
    ],
)
def test_a_statement_of_another_shape_is_left_out(raw: Any) -> None:
    assert issuance_statement({"id": "p", "issuance": raw}) is None


def test_only_the_purpose_covering_the_request_speaks_of_issuance() -> None:
    registration = {
        "purposes": [
            {"id": "age", "description": [], "credentials": [_AGE]},
            {
                "id": "identification",
                "description": [{"locale": "en", "text": "Before issuing"}],
                "credentials": [_NAME],
                "issuance": _STATEMENT,
            },
        ]
    }
    age, beyond = registered_purpose(registration, _dcql("age_over_18"), ["en"])
    assert age is not None and age.issuance is None and beyond == []
    named, _ = registered_purpose(registration, _dcql("given_name"), ["en"])
    assert named is not None
    assert named.shown == {"id": "identification", "description": "Before issuing"}
    assert named.issuance == IssuanceStatement(TRANSPORT, ["driving_licence"])
    beyond_all, beyond = registered_purpose(registration, _dcql("birthdate"), ["en"])
    assert beyond_all is None and beyond == ["birthdate"]


# -- the context, from what the wallet knows of the issuer --------------------------------


class _Context:
    def __init__(self, listings: dict[tuple[str, str], tuple[float, Any]]) -> None:
        self.clock = FixedClock(time.time())
        self.issuer_listings = listings


def _context(listings: dict[tuple[str, str], tuple[float, Any]] | None = None) -> WalletContext:
    return cast(WalletContext, _Context(listings or {}))


def _listing(name: str, available: bool = True) -> KnownIssuer:
    return KnownIssuer(
        credential_issuer=TRANSPORT,
        name=name,
        display={},
        available=available,
        credentials=[
            IssuableCredential(
                credential_configuration_id="driving_licence",
                name="Führerschein",
                display={},
                holder_keys_needed=1,
            )
        ],
    )


STATEMENT = IssuanceStatement(TRANSPORT, ["driving_licence", "boat_licence"])


def test_without_knowledge_the_organization_and_ids_are_shown() -> None:
    shown = issuance_context(_context(), STATEMENT, "Transport Agency", [], ["en"])
    assert shown.issuer_name == "Transport Agency" and shown.awaiting_authorization is False
    assert [c.name for c in shown.credentials] == ["driving_licence", "boat_licence"]
    assert issuance_context(_context(), STATEMENT, None, [], ["en"]).issuer_name == TRANSPORT


def test_a_fresh_listing_in_the_citizens_language_names_them() -> None:
    later = time.time() + 60
    shown = issuance_context(
        _context({(TRANSPORT, "de"): (later, _listing("Verkehrsbehörde"))}),
        STATEMENT,
        "Transport Agency",
        [],
        ["de"],
    )
    assert shown.issuer_name == "Verkehrsbehörde"
    assert [c.name for c in shown.credentials] == ["Führerschein", "boat_licence"]
    for stale in [
        {(TRANSPORT, "de"): (time.time() - 1, _listing("Verkehrsbehörde"))},
        {(TRANSPORT, "de"): (later, _listing("Verkehrsbehörde", available=False))},
        {(TRANSPORT, "en"): (later, _listing("Verkehrsbehörde"))},
    ]:
        assert issuance_context(_context(stale), STATEMENT, "TA", [], ["de"]).issuer_name == "TA"


def test_an_issuance_waiting_at_that_issuer_for_a_listed_credential_is_said() -> None:
    waiting = WaitingIssuance(TRANSPORT, "Transport Agency", {"boat_licence": "Boat licence"})
    shown = issuance_context(_context(), STATEMENT, "TA", [waiting], ["en"])
    assert shown.awaiting_authorization is True
    assert [(c.name, c.awaiting_authorization) for c in shown.credentials] == [
        ("driving_licence", False),
        ("Boat licence", True),
    ]
    assert shown.statement.startswith("Transport Agency asks for this in order to issue you Boat")
    # at another issuer, or for a credential the statement does not name: nothing waits
    elsewhere = WaitingIssuance("https://other.example/issuer", "Other", {"boat_licence": "B"})
    unnamed = WaitingIssuance(TRANSPORT, "Transport Agency", {"bike_licence": "Bike licence"})
    for other in (elsewhere, unnamed):
        assert not issuance_context(
            _context(), STATEMENT, "TA", [other], ["en"]
        ).awaiting_authorization
