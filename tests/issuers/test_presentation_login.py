"""Presentation during issuance: the transport agency asks the citizen's wallet for the
national ID before it issues a driving licence, through the OpenID4VP request of its own
counter (``transport-agency-id-check``) over the verifier's public counter API, and
finds the citizen in its register by the proven name and date of birth; the licence
carries what the register holds. Our own wallet's mobile API answers, on another device
(the QR code's link) and on this one (the wallet sends the browser back with a
``response_code``). Every way it can go wrong ends at the wallet's redirect URI with
``access_denied``, an ``authorization.refuse`` audit entry and no credential: a person
the register does not know, someone else's national ID for a clerk's offer, a declined
presentation, an expired request, a replayed completion, a completion from another
browser, a same-device answer without its code. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from app import create_app
from app.settings import Settings
from core.encoding import b64url_decode
from core.keys.signer import SoftwareSigner
from core.oauth import pkce_s256_challenge
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_authorization_endpoints import DPOP_KEY, REDIRECT, TRUSTED, VERIFIER
from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.issuers.test_issuance import create_offer, operator_key
from tests.issuers.test_register_service import _audit_entries
from tests.issuers.wallet import Wallet, proof
from tests.support.wallet_provider import CLIENT_ID, attestation_headers, new_instance
from tests.verifiers.presenter import fetch_request
from tests.wallet.phone import Phone

AGENCY = "transport-agency"
ISSUER = f"{PUBLIC_BASE_URL}/issuers/{AGENCY}"
COUNTER = "transport-agency-id-check"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    changed = dataclasses.replace(settings, wallet_provider_anchors=(TRUSTED.root,))
    with TestClient(app=create_app(changed), base_url=PUBLIC_BASE_URL) as client:
        yield client


def _attested(instance: SoftwareSigner) -> dict[str, str]:
    return attestation_headers(TRUSTED, instance, audience=ISSUER, issued_at=time.time())


def _holding_national_id(client: TestClient[Any], **claims: Any) -> Phone:
    """A citizen whose wallet received the national ID from the civil registry's desk."""
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, "civil-registry", "national_id", {**CITIZEN, **claims})
    phone.receive(offer["offer_uri"])
    return phone


def _to_the_page(client: TestClient[Any], instance: SoftwareSigner, **pushed_too: str) -> str:
    """A HAIP wallet's pushed request for a driving licence, and the citizen's browser at
    the authorization endpoint, sent on to the agency's page (with its cookie)."""
    form = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "code_challenge": pkce_s256_challenge(VERIFIER),
        "code_challenge_method": "S256",
        "scope": "driving_licence",
        "state": "af0ifjsldkj",
        **pushed_too,
    }
    pushed = client.post(f"/issuers/{AGENCY}/par", data=form, headers=_attested(instance))
    assert pushed.status_code == 201, pushed.text
    sent = client.get(
        f"/issuers/{AGENCY}/authorize",
        params={"client_id": CLIENT_ID, "request_uri": pushed.json()["request_uri"]},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    location: str = sent.headers["location"]
    assert location.startswith(f"{ISSUER}/presentation-login/"), location
    cookie = sent.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    page = urlsplit(location).path
    shown = client.get(page)
    assert shown.status_code == 200 and "text/html" in shown.headers["content-type"]
    assert "script-src 'self'" in shown.headers["content-security-policy"]
    return page


def _status(client: TestClient[Any], page: str) -> dict[str, Any]:
    answer = client.get(f"{page}/status")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    status: dict[str, Any] = answer.json()
    return status


def _present(phone: Phone, uri: str) -> dict[str, Any]:
    scanned = phone.scan(uri)
    assert scanned.status_code == 201, scanned.text
    consent = scanned.json()["presentation"]
    assert consent["verifier"]["name"] == "Transport Agency"  # from its certificate
    assert [c["name"] for c in consent["requests"][0]["claims"]] == [
        "given_name",
        "family_name",
        "birthdate",
    ]
    # the registrar's word: the check serves the agency's issuance; a HAIP wallet (not
    # this one) waits for its authorization
    issuance = consent["issuance"]
    assert issuance["credential_issuer"] == ISSUER and issuance["issuer_name"] == "Transport Agency"
    assert issuance["awaiting_authorization"] is False
    return phone.approve(consent["presentation_id"])


def _complete(client: TestClient[Any], page: str, **query: str) -> dict[str, str]:
    answer = client.get(f"{page}/complete", params=query, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT, location
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def _licence(client: TestClient[Any], instance: SoftwareSigner, code: str) -> dict[str, Any]:
    """The code exchanged as a HAIP wallet does and the licence fetched; its disclosed
    claims."""
    wallet = Wallet(client, dpop_key=DPOP_KEY)
    token = wallet.post_with_dpop(
        f"{ISSUER}/token",
        headers=_attested(instance),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
            "client_id": CLIENT_ID,
        },
    )
    assert token.status_code == 200, token.text
    metadata = wallet.metadata(ISSUER)
    holder = wallet.new_holder()
    credential = wallet.credential(
        metadata,
        token.json()["access_token"],
        {
            "credential_configuration_id": "driving_licence",
            "proofs": {"jwt": [proof(holder, ISSUER, wallet.nonce(metadata))]},
        },
    )
    assert credential.status_code == 200, credential.text
    disclosed: dict[str, Any] = {}
    for part in credential.json()["credentials"][0]["credential"].split("~")[1:]:
        if part:
            decoded = json.loads(b64url_decode(part))
            if len(decoded) == 3:
                disclosed[decoded[1]] = decoded[2]
    return disclosed


def _refusals(client: TestClient[Any]) -> list[dict[str, Any]]:
    key = operator_key(client, AGENCY)
    events = client.get(
        f"/issuers/{AGENCY}/audit", headers={"Authorization": f"Bearer {key}"}
    ).json()["events"]
    return [e for e in events if e["action"] == "authorization.refuse"]


def _issued(client: TestClient[Any]) -> list[dict[str, Any]]:
    key = operator_key(client, AGENCY)
    events = client.get(
        f"/issuers/{AGENCY}/audit", headers={"Authorization": f"Bearer {key}"}
    ).json()["events"]
    return [e for e in events if e["action"] == "offer.create"]


def _denied(answer: dict[str, str], description: str) -> None:
    assert answer["error"] == "access_denied", answer
    assert description in answer["error_description"], answer
    assert answer["iss"] == ISSUER and answer["state"] == "af0ifjsldkj"
    assert "code" not in answer


def test_a_citizen_shows_the_national_id_from_another_device_and_gets_the_licence(
    client: TestClient[Any],
) -> None:
    phone = _holding_national_id(client)
    instance = new_instance()
    page = _to_the_page(client, instance)
    status = _status(client, page)
    assert status["status"] == "waiting" and status["verifier_id"] == COUNTER
    assert {"locale": "de", "name": "Führerschein"} in status["credential"]
    assert {"locale": "en", "name": "Transport Agency"} in status["agency"]
    # from which register data: the register's name and the licence's claims
    assert {"locale": "de", "name": "Fahrerlaubnisregister"} in status["register"]["name"]
    assert [c["name"] for c in status["register"]["claims"]][:3] == [
        "given_name",
        "family_name",
        "birthdate",
    ]
    assert status["uri"].startswith("openid4vp://") and status["same_device"] is False
    qr = client.get(status["qr_svg_url"].removeprefix(PUBLIC_BASE_URL))
    assert qr.status_code == 200 and qr.text.lstrip().startswith("<svg")
    # the wallet has not answered yet: back to the page, nothing decided
    early = client.get(f"{page}/complete", follow_redirects=False)
    assert early.status_code == 303 and urlsplit(early.headers["location"]).path == page

    assert _present(phone, status["uri"])["outcome"] == "accepted"
    assert _status(client, page)["status"] == "verified"
    answer = _complete(client, page)
    assert answer["iss"] == ISSUER and answer["state"] == "af0ifjsldkj" and answer["code"]
    licence = _licence(client, instance, answer["code"])
    # from the register, never from the presentation: the citizen typed nothing
    assert licence["document_number"] == DRIVER["document_number"]
    assert len(licence["driving_privileges"]) == len(DRIVER["driving_privileges"])
    assert licence["given_name"] == DRIVER["given_name"]
    assert _refusals(client) == []

    # the completion is single-use: a replay gets nothing more
    _denied(_complete(client, page), "ended already")
    assert [r["outcome"] for r in _refusals(client)] == ["login_ended"]
    assert len(_issued(client)) == 1


def test_a_wallet_on_the_same_device_sends_the_browser_back_with_its_code(
    client: TestClient[Any],
) -> None:
    phone = _holding_national_id(client)
    instance = new_instance()
    page = _to_the_page(client, instance)
    asked = client.post(f"{page}/same-device")
    assert asked.status_code == 200, asked.text
    link = asked.json()["link"]
    assert _status(client, page)["same_device"] is True
    result = _present(phone, link)
    assert result["outcome"] == "accepted", result
    back = urlsplit(result["redirect_uri"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == f"{PUBLIC_BASE_URL}{page}"
    response_code = parse_qs(back.fragment)["response_code"][0]
    answer = _complete(client, page, response_code=response_code)
    assert answer["code"], answer
    assert _licence(client, instance, answer["code"])["birthdate"] == DRIVER["birthdate"]
    assert _refusals(client) == []


def test_the_agency_asks_for_an_encrypted_answer_and_device_bound_keys_give_it(
    client: TestClient[Any],
) -> None:
    """HAIP 1.0 §5.1: the agency's request asks for ``direct_post.jwt``, with the
    transaction's key in its ``client_metadata`` (OpenID4VP 1.0 §8.3); a wallet whose
    holder keys stay on the phone (approve, then the phone's signatures) answers it
    encrypted, and the agency issues."""
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN)
    phone.receive(offer["offer_uri"], custody="device")
    instance = new_instance()
    page = _to_the_page(client, instance)
    uri = _status(client, page)["uri"]
    request = fetch_request(client, uri).payload
    assert request["response_mode"] == "direct_post.jwt"
    [key] = request["client_metadata"]["jwks"]["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ECDH-ES", "enc")
    assert _present(phone, uri)["outcome"] == "accepted"
    assert phone.holder_keys  # the phone signed the key binding JWT
    answer = _complete(client, page)
    assert _licence(client, instance, answer["code"])["birthdate"] == DRIVER["birthdate"]
    assert _refusals(client) == []


def test_a_same_device_answer_is_not_taken_without_its_response_code(
    client: TestClient[Any],
) -> None:
    phone = _holding_national_id(client)
    page = _to_the_page(client, new_instance())
    link = client.post(f"{page}/same-device").json()["link"]
    assert _present(phone, link)["outcome"] == "accepted"
    _denied(_complete(client, page), "another session")
    assert [r["outcome"] for r in _refusals(client)] == ["answer_not_released"]


def test_a_wrong_response_code_releases_nothing(client: TestClient[Any]) -> None:
    phone = _holding_national_id(client)
    page = _to_the_page(client, new_instance())
    link = client.post(f"{page}/same-device").json()["link"]
    assert _present(phone, link)["outcome"] == "accepted"
    _denied(_complete(client, page, response_code="not-the-code"), "another session")
    assert [r["outcome"] for r in _refusals(client)] == ["answer_not_released"]
    assert _issued(client) == []


def test_a_person_the_register_does_not_know_gets_nothing(client: TestClient[Any]) -> None:
    phone = _holding_national_id(client, given_name="Maxima")
    page = _to_the_page(client, new_instance())
    assert _present(phone, _status(client, page)["uri"])["outcome"] == "accepted"
    _denied(_complete(client, page), "holds no such credential")
    [refusal] = _refusals(client)
    assert refusal["outcome"] == "not_in_register"
    assert "Maxima" not in json.dumps(refusal)  # no personal data in the audit trail
    assert _issued(client) == []


def test_someone_elses_national_id_does_not_open_a_clerks_offer(client: TestClient[Any]) -> None:
    """The desk offered a licence to another citizen by online sign-in; Erika's national
    ID identifies Erika, not the citizen the offer names."""
    made = client.post(
        f"/issuers/{AGENCY}/offers",
        json={
            "subject_id": "another-citizen",
            "credential_configuration_id": "driving_licence",
            "claims": {**DRIVER, "given_name": "Max"},
            "grant": "authorization_code",
        },
        headers={"Authorization": f"Bearer {operator_key(client, AGENCY)}"},
    )
    assert made.status_code == 201, made.text
    issuer_state = made.json()["credential_offer"]["grants"]["authorization_code"]["issuer_state"]
    phone = _holding_national_id(client)
    page = _to_the_page(client, new_instance(), issuer_state=issuer_state)
    assert _present(phone, _status(client, page)["uri"])["outcome"] == "accepted"
    _denied(_complete(client, page), "not of the citizen this offer was made for")
    assert [r["outcome"] for r in _refusals(client)] == ["other_citizen"]


def test_a_declined_presentation_ends_the_authorization(client: TestClient[Any]) -> None:
    phone = _holding_national_id(client)
    page = _to_the_page(client, new_instance())
    consent = phone.scan(_status(client, page)["uri"]).json()["presentation"]
    declined = phone.post(f"/wallet/presentations/{consent['presentation_id']}/decline")
    assert declined.status_code == 200, declined.text
    status = _status(client, page)
    assert status["status"] == "failed" and status["reason"] == "declined"
    _denied(_complete(client, page), "did not share")
    assert [r["outcome"] for r in _refusals(client)] == ["presentation_declined"]


class _Later:
    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at


def test_an_expired_request_ends_the_authorization(client: TestClient[Any]) -> None:
    page = _to_the_page(client, new_instance())
    verifiers = client.app.state.verifiers
    expires = verifiers.clock.now() + verifiers.policy.request_lifetime + 1
    client.app.state.verifiers = dataclasses.replace(verifiers, clock=_Later(expires))
    status = _status(client, page)
    assert status["status"] == "expired" and status["reason"] == "expired"
    _denied(_complete(client, page), "timed out")
    assert [r["outcome"] for r in _refusals(client)] == ["presentation_expired"]


def test_another_browser_cannot_follow_or_complete_the_check(client: TestClient[Any]) -> None:
    phone = _holding_national_id(client)
    page = _to_the_page(client, new_instance())
    uri = _status(client, page)["uri"]
    assert _present(phone, uri)["outcome"] == "accepted"
    client.cookies.clear()  # another browser, which has the page's address only
    followed = client.get(f"{page}/status")
    assert followed.status_code == 400 and followed.json()["error"] == "access_denied"
    assert client.get(f"{page}/qr.svg").status_code == 400
    _denied(_complete(client, page), "another browser")
    assert [r["outcome"] for r in _refusals(client)] == ["session_mismatch"]
    assert _issued(client) == []


def test_a_forged_page_state_is_refused_without_redirect(client: TestClient[Any]) -> None:
    page = _to_the_page(client, new_instance())
    authorization_id = page.rsplit("/", 1)[1].split(".")[0]
    forged = f"/issuers/{AGENCY}/presentation-login/{authorization_id}.AAAA"
    answer = client.get(f"{forged}/complete", follow_redirects=False)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert client.get("/issuers/civil-registry/presentation-login/x.y/status").status_code == 400
    # a state that is not ASCII is refused like any other, never answered 500
    not_ascii = f"/issuers/{AGENCY}/presentation-login/{authorization_id}.%C3%AE%C2%A0/status"
    answer = client.get(not_ascii)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_cancel_on_the_page_ends_the_authorization_at_the_wallet(client: TestClient[Any]) -> None:
    """The page's "Cancel and go back to the wallet": the wallet is told access_denied at
    once, even while its request is still waiting for an answer."""
    phone = _holding_national_id(client)
    page = _to_the_page(client, new_instance())
    uri = _status(client, page)["uri"]
    cancelled = client.get(f"{page}/cancel", follow_redirects=False)
    assert cancelled.status_code == 303, cancelled.text
    location = urlsplit(cancelled.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    _denied({k: v[0] for k, v in parse_qs(location.query).items()}, "cancelled")
    assert [r["outcome"] for r in _refusals(client)] == ["cancelled"]
    # a wallet answering afterwards opens nothing
    assert _present(phone, uri)["outcome"] == "accepted"
    _denied(_complete(client, page), "ended already")
    assert _issued(client) == []


def test_the_citizens_wallet_says_the_register_was_asked_who_they_are(
    settings: Settings,
) -> None:
    """The citizen's own wallet gets the licence by showing its national ID: its activity
    log names both reads of the register, the one that found out who the citizen is and
    the one of the licence's data; the audit trail holds both."""
    with TestClient(app=create_app(settings), base_url=PUBLIC_BASE_URL) as client:
        phone = _holding_national_id(client)
        started = phone.post(
            "/wallet/issuances",
            {"credential_issuer": ISSUER, "credential_configuration_id": "driving_licence"},
        )
        assert started.status_code == 201, started.text
        sent = client.get(started.json()["authorization_url"], follow_redirects=False)
        assert sent.status_code == 303, sent.text
        page = urlsplit(sent.headers["location"]).path
        consent = phone.scan(_status(client, page)["uri"]).json()["presentation"]
        assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"
        back = client.get(f"{page}/complete", follow_redirects=False)
        assert back.status_code == 303, back.text
        received = phone.post(
            "/wallet/issuances/authorized", {"redirect_url": back.headers["location"]}
        )
        assert received.status_code == 200, received.text
        [licence] = received.json()["credentials"]
        activity = phone.get("/wallet/activity").json()["activity"]
        reads = [e for e in activity if e["kind"] == "register_read" and e["issuer"] == ISSUER]
        assert sorted(r["purpose"] for r in reads) == ["identify_citizen", "issue_credential"]
        assert all(r["credential_id"] == licence["credential_id"] for r in reads)
    purposes = [json.loads(e["facts"])["purpose"] for e in _audit_entries(settings)]
    assert "identify_citizen" in purposes and "issue_credential" in purposes


def test_a_clerks_offer_opened_by_the_national_id_names_the_identifying_read(
    client: TestClient[Any],
) -> None:
    """The desk offered the licence by online sign-in; the citizen's national ID opens it,
    and the register was asked who the citizen is: the offer notes when, so that the
    credential's answer names that read to the citizen's wallet too."""
    made = client.post(
        f"/issuers/{AGENCY}/offers",
        json={
            "subject_id": "demo-citizen",
            "credential_configuration_id": "driving_licence",
            "claims": DRIVER,
            "grant": "authorization_code",
        },
        headers={"Authorization": f"Bearer {operator_key(client, AGENCY)}"},
    )
    assert made.status_code == 201, made.text
    issuer_state = made.json()["credential_offer"]["grants"]["authorization_code"]["issuer_state"]
    assert _identified_at(client, made.json()["offer_id"]) is None
    phone = _holding_national_id(client)
    instance = new_instance()
    page = _to_the_page(client, instance, issuer_state=issuer_state)
    assert _present(phone, _status(client, page)["uri"])["outcome"] == "accepted"
    answer = _complete(client, page)
    assert answer.get("code"), answer
    assert _identified_at(client, made.json()["offer_id"]) is not None
    licence = _licence(client, instance, answer["code"])
    assert licence["given_name"] == DRIVER["given_name"]


def _identified_at(client: TestClient[Any], offer_id: str) -> float | None:
    async def read() -> float | None:
        async with client.app.state.deployment.sessions() as session:
            found = await session.scalar(
                text("SELECT identified_at FROM issuer_offers WHERE offer_id = :offer"),
                {"offer": offer_id},
            )
            return None if found is None else float(found)

    noted: float | None = client.blocking_portal.call(read)
    return noted
