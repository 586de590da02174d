"""What a mediation never reaches, and what it checks again at the irreversible step
(docs/mediators.md), through the API on SQLite and PostgreSQL:

- a presentation request that identifies the citizen for an issuance (the transport
  agency's login by presentation, started from the mediator's own wallet) is refused
  with a 403 problem when the mediator opens it and when the mediator approves it, so the
  agency never issues the citizen's licence into the mediator's wallet;
- a mediator's screen is never handed the verifier's same-device ``redirect_uri`` (its
  ``response_code`` releases the answer to whichever browser holds it);
- a mediation ended while a request is under way stops the request before the
  presentation is posted or the offer's code is spent: nothing is half done.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from litestar.testing import TestClient

from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.verifiers.presenter import create_request, transaction_status
from tests.wallet.phone import Phone
from tests.wallet.test_issuance_consent import TRANSPORT, _agency_page
from tests.wallet.test_mediation import _as, _audit, _mediated
from wallet.domain import Mediation
from wallet.services.context import WalletContext
from wallet.services.mediation_messages import ISSUANCE_LOGIN_IN_MEDIATION


def _login_request_of_the_mediators_own_issuance(client: TestClient[Any]) -> str:
    """The mediator's own wallet starts the driving licence's issuance; the agency's page
    asks for a national ID: the OpenID4VP request its QR code (or link) carries."""
    mediators_wallet = Phone(client)
    mediators_wallet.register()
    started = mediators_wallet.post(
        "/wallet/issuances",
        {"credential_issuer": TRANSPORT, "credential_configuration_id": "driving_licence"},
    )
    assert started.status_code == 201, started.text
    page = _agency_page(client, started.json()["authorization_url"])
    asked = client.post(f"{page}/same-device")
    assert asked.status_code == 200, asked.text
    return str(parse_qs(urlsplit(asked.json()["link"]).fragment)["request"][0])


def test_a_mediator_cannot_answer_an_issuers_login_by_presentation(
    client: TestClient[Any],
) -> None:
    phone, _, request = _mediated(client)
    phone.receive(create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"])
    login = _login_request_of_the_mediators_own_issuance(client)

    for path in ("/wallet/scans", "/wallet/presentations"):
        refused = client.post(path, json={"uri": login}, headers=_as(request))
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["error"] == "not_allowed_in_mediation"
        assert refused.json()["detail"] == ISSUANCE_LOGIN_IN_MEDIATION

    # opened by the citizen's own session, it is still never approved by the mediator
    opened = phone.scan(login)
    assert opened.status_code == 201, opened.text
    presentation_id = opened.json()["presentation"]["presentation_id"]
    approved = client.post(
        f"/wallet/presentations/{presentation_id}/approve", json={}, headers=_as(request)
    )
    assert approved.status_code == 403, approved.text
    assert approved.json()["error"] == "not_allowed_in_mediation"
    # nothing was shared: the citizen's log has no presentation, the audit trail the refusal
    kinds = [entry["kind"] for entry in phone.get("/wallet/activity").json()["activity"]]
    assert "presentation_sent" not in kinds
    refusals = [e for e in _audit(client) if e.action == "mediation.refused"]
    assert any('"operation":"issuance_login"' in e.facts for e in refusals)
    # the citizen, in their own wallet, may still answer it (their own decision)
    assert phone.approve(presentation_id)["outcome"] == "accepted"


def test_a_mediators_screen_is_never_sent_on_by_the_verifier(client: TestClient[Any]) -> None:
    phone, _, request = _mediated(client)
    phone.receive(create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"])
    created = create_request(client, "bar-age-check", template="age_over_18", same_device=True)
    scanned = client.post("/wallet/scans", json={"uri": created["uri"]}, headers=_as(request))
    assert scanned.status_code == 201, scanned.text
    presentation_id = scanned.json()["presentation"]["presentation_id"]
    approved = client.post(
        f"/wallet/presentations/{presentation_id}/approve", json={}, headers=_as(request)
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["outcome"] == "accepted"
    assert "redirect_uri" not in approved.json()
    assert "mediator's browser" in approved.json()["redirect_refused"]


class _EndedRightAfterTheCheck:
    """The mediations, where the citizen ends the mediation right after a request's
    token was checked (while that request is under way), once armed."""

    def __init__(self, context: WalletContext) -> None:
        self._inner = context.mediations
        self._context = context
        self.armed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def mediation_by_token(self, token_hash: str) -> Mediation | None:
        found: Mediation | None = await self._inner.mediation_by_token(token_hash)
        if self.armed and found is not None:
            self.armed = False
            now = self._context.clock.now()
            assert await self._inner.end(found.mediation_id, now, account_id=found.account_id)
        return found


def _ending(client: TestClient[Any]) -> _EndedRightAfterTheCheck:
    context: WalletContext = client.app.state.wallet
    ending = _EndedRightAfterTheCheck(context)
    context.mediations = ending  # type: ignore[assignment]
    return ending


def test_a_mediation_ended_under_way_posts_no_presentation(client: TestClient[Any]) -> None:
    phone, _, request = _mediated(client)
    phone.receive(create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"])
    created = create_request(client, "bar-age-check", template="age_over_18")
    scanned = client.post("/wallet/scans", json={"uri": created["uri"]}, headers=_as(request))
    presentation_id = scanned.json()["presentation"]["presentation_id"]
    context: WalletContext = client.app.state.wallet
    inner = context.mediations
    try:
        _ending(client).armed = True
        approved = client.post(
            f"/wallet/presentations/{presentation_id}/approve", json={}, headers=_as(request)
        )
    finally:
        context.mediations = inner
    assert approved.status_code == 401, approved.text
    assert approved.json()["error"] == "invalid_token"
    # the verifier got nothing; the citizen's log shows no presentation
    pending = transaction_status(client, "bar-age-check", created["transaction_id"]).json()
    assert pending["status"] != "verified"
    kinds = [entry["kind"] for entry in phone.get("/wallet/activity").json()["activity"]]
    assert "presentation_sent" not in kinds


def test_a_mediation_ended_under_way_spends_no_offer(client: TestClient[Any]) -> None:
    phone, _, request = _mediated(client)
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN, tx_code=True)
    scanned = client.post("/wallet/scans", json={"uri": offer["offer_uri"]}, headers=_as(request))
    offer_id = scanned.json()["offer"]["offer_id"]
    context: WalletContext = client.app.state.wallet
    inner = context.mediations
    try:
        _ending(client).armed = True
        accepted = client.post(
            f"/wallet/offers/{offer_id}/accept",
            json={"tx_code": offer["tx_code"]},
            headers=_as(request),
        )
    finally:
        context.mediations = inner
    assert accepted.status_code == 401, accepted.text
    assert phone.get("/wallet/credentials").json()["credentials"] == []
    # the offer's code was not spent: the citizen receives it in their own wallet
    assert phone.receive(offer["offer_uri"], tx_code=offer["tx_code"])["status"] == "received"
