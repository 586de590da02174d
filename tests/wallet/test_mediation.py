"""Assisted access at a citizen space (docs/mediators.md), through the API on SQLite and
PostgreSQL: a mediator's help request, the citizen's consent in their own wallet, the
mediator receiving and presenting for the citizen with every entry of the activity log
marked, everything else refused with a 403 problem, the end by the citizen refused at
once, expiry, and a code that starts one mediation however many consent at once."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import select

from core.storage.audit_trail import AuditEntryRow
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.verifiers.presenter import create_request, transaction_status
from tests.wallet.phone import Phone
from wallet.services.context import WalletContext
from wallet.services.mediators import register_mediator, register_space


def _mediator(client: TestClient[Any], mediator_id: str = "ana-sousa") -> dict[str, str]:
    context: WalletContext = client.app.state.wallet

    async def register() -> str:
        spaces = [space.space_id for space, _ in await context.mediations.spaces()]
        if "espaco-lisboa" not in spaces:
            await register_space(
                context.mediations, "espaco-lisboa", "Espaço Cidadão Lisboa", ["pt", "en"]
            )
        return await register_mediator(
            context.mediations, mediator_id, "espaco-lisboa", "Ana Sousa", ["pt", "en"]
        )

    key = client.blocking_portal.call(register)
    return {"Authorization": f"Bearer {key}"}


def _help_request(client: TestClient[Any], mediator: dict[str, str]) -> dict[str, Any]:
    created = client.post("/mediator/api/help-requests", headers=mediator)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def _mediated(client: TestClient[Any]) -> tuple[Phone, dict[str, str], dict[str, Any]]:
    """A citizen who consented to Ana's help: the phone, Ana's key, the help request."""
    phone = Phone(client)
    phone.register()
    mediator = _mediator(client)
    request = _help_request(client, mediator)
    consented = phone.post("/wallet/mediations", {"code": request["code"]})
    assert consented.status_code == 201, consented.text
    return phone, mediator, request


def _as(request: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {request['mediation_token']}"}


def test_a_mediator_receives_and_presents_for_the_citizen(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    mediator = _mediator(client)
    profile = client.get("/mediator/api/me", headers=mediator).json()
    assert profile["space"]["name"] == "Espaço Cidadão Lisboa"
    assert profile["actions"] == ["receive", "present", "read"]
    request = _help_request(client, mediator)
    assert request["consent_uri"].endswith(f"#help={request['code']}")
    assert request["qr_svg"].startswith("<svg")
    status = client.get(f"/mediator/api/help-requests/{request['request_id']}", headers=mediator)
    assert status.json()["status"] == "waiting"
    # before the citizen consents, the token opens nothing
    assert client.get("/wallet/credentials", headers=_as(request)).status_code == 401

    # the citizen types the code however it comes (lower case, no dash)
    typed = request["code"].replace("-", " ").lower()
    looked = phone.post("/wallet/help-requests/lookup", {"code": typed})
    assert looked.status_code == 200, looked.text
    assert looked.json()["mediator"] == "Ana Sousa"
    assert looked.json()["minutes"] == 30
    assert "delete_account" in looked.json()["never"]
    consented = phone.post("/wallet/mediations", {"code": typed})
    assert consented.status_code == 201, consented.text
    mediation = consented.json()
    status = client.get(f"/mediator/api/help-requests/{request['request_id']}", headers=mediator)
    assert status.json()["status"] == "consented"
    assert status.json()["mediation"]["confirmation"] == mediation["confirmation"]

    # receive: the mediator scans the agency's offer and accepts it, keys on the server
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN, tx_code=True)
    scanned = client.post("/wallet/scans", json={"uri": offer["offer_uri"]}, headers=_as(request))
    assert scanned.status_code == 201, scanned.text
    offer_id = scanned.json()["offer"]["offer_id"]
    device_keys = client.post(
        f"/wallet/offers/{offer_id}/accept",
        json={"custody": "device", "holder_keys": phone.new_holder_keys(3)},
        headers=_as(request),
    )
    assert device_keys.status_code == 403, device_keys.text
    accepted = client.post(
        f"/wallet/offers/{offer_id}/accept",
        json={"tx_code": offer["tx_code"]},
        headers=_as(request),
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "received"

    # present: the bar's counter asks, the citizen (beside) agrees, the mediator approves
    created = create_request(client, "bar-age-check", template="age_over_18")
    scanned = client.post("/wallet/scans", json={"uri": created["uri"]}, headers=_as(request))
    assert scanned.status_code == 201, scanned.text
    presentation_id = scanned.json()["presentation"]["presentation_id"]
    approved = client.post(
        f"/wallet/presentations/{presentation_id}/approve", json={}, headers=_as(request)
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["outcome"] == "accepted"
    verified = transaction_status(client, "bar-age-check", created["transaction_id"]).json()
    assert verified["status"] == "verified"

    # the mediator reads the list and the log; the citizen's own log says who helped
    assert client.get("/wallet/credentials", headers=_as(request)).status_code == 200
    activity = phone.get("/wallet/activity").json()["activity"]
    assert [(a["kind"], a.get("what")) for a in activity] == [
        ("mediator_acted", "credentials"),
        ("presentation_sent", None),
        ("mediator_acted", "scan"),
        ("credential_received", None),
        ("mediator_acted", "scan"),
        ("mediation_started", None),
        ("device_registered", None),
    ]
    helped = {"mediation_id": mediation["mediation_id"], "mediator": "Ana Sousa"}
    for entry in activity[:5]:
        assert entry["assisted_by"] == {**helped, "space": "Espaço Cidadão Lisboa"}
    assert "assisted_by" not in activity[5] and "assisted_by" not in activity[6]
    assert activity[5]["mediator"] == "Ana Sousa"
    # the mediator reading the log is in it, once however often they read it in a minute
    read = client.get("/wallet/activity", headers=_as(request)).json()["activity"]
    assert (read[0]["kind"], read[0]["what"]) == ("mediator_acted", "activity")
    assert read[0]["assisted_by"] == activity[0]["assisted_by"]
    assert read[1:] == activity
    assert client.get("/wallet/activity", headers=_as(request)).json()["activity"] == read
    assert phone.get("/wallet/activity").json()["activity"] == read

    # the audit trail: who helped, where, doing what; the citizen only as a keyed hash
    entries = _audit(client)
    actions = [(e.action, e.outcome) for e in entries]
    assert ("mediation.started", "ok") in actions
    assert ("mediation.refused", "forbidden") in actions  # the device keys
    acted = [e for e in entries if e.action == "mediation.acted"]
    assert {e.actor_kind for e in acted} == {"mediator"}
    assert {e.actor for e in acted} == {"espaco-lisboa/ana-sousa"}
    facts = [e.facts for e in acted]
    assert '{"action":"present","operation":"approvePresentation","space":"espaco-lisboa"}' in facts
    assert '{"action":"receive","operation":"acceptOffer","space":"espaco-lisboa"}' in facts
    subjects = {
        e.subject_key
        for e in entries
        if e.actor_kind == "mediator" and e.action != "mediation.requested"
    }
    assert len(subjects) == 1 and str(phone.account_id) not in str(subjects)


def _audit(client: TestClient[Any]) -> list[AuditEntryRow]:
    sessions = client.app.state.deployment.sessions

    async def read() -> list[AuditEntryRow]:
        async with sessions() as session:
            return list(
                (await session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.id))).all()
            )

    return client.blocking_portal.call(read)


def test_a_mediation_may_do_nothing_else(client: TestClient[Any]) -> None:
    phone, _, request = _mediated(client)
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN)
    phone.receive(offer["offer_uri"])
    credential_id = phone.get("/wallet/credentials").json()["credentials"][0]["credential_id"]
    refused = [
        client.delete("/wallet/account", headers=_as(request)),
        client.post("/wallet/devices", json={"device_proof": "x.y.z"}, headers=_as(request)),
        client.get("/wallet/devices", headers=_as(request)),
        client.delete(f"/wallet/devices/{phone.device_id}", headers=_as(request)),
        client.delete(f"/wallet/credentials/{credential_id}", headers=_as(request)),
        client.get(f"/wallet/credentials/{credential_id}", headers=_as(request)),
        client.get("/wallet/activity/export", headers=_as(request)),
        client.get("/wallet/mediations", headers=_as(request)),
        client.post("/wallet/mediations", json={"code": "ABCD-EFGH"}, headers=_as(request)),
        client.get("/wallet/issuers", headers=_as(request)),
    ]
    for response in refused:
        assert response.status_code == 403, (response.request.url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["error"] == "not_allowed_in_mediation"
    assert phone.get("/wallet/credentials").json()["credentials"]  # nothing was deleted
    assert len(phone.get("/wallet/devices").json()["devices"]) == 1


def test_the_citizen_ends_it_and_the_next_action_is_refused(client: TestClient[Any]) -> None:
    phone, mediator, request = _mediated(client)
    assert client.get("/wallet/credentials", headers=_as(request)).status_code == 200
    [live] = phone.get("/wallet/mediations").json()["mediations"]
    assert live["mediator"] == "Ana Sousa" and live["space"] == "Espaço Cidadão Lisboa"
    # another citizen cannot end it, nor see it
    stranger = Phone(client)
    stranger.register()
    assert stranger.get("/wallet/mediations").json()["mediations"] == []
    assert stranger.delete(f"/wallet/mediations/{live['mediation_id']}").status_code == 404

    assert phone.delete(f"/wallet/mediations/{live['mediation_id']}").status_code == 204
    refused = client.get("/wallet/credentials", headers=_as(request))
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    assert phone.get("/wallet/mediations").json()["mediations"] == []
    assert phone.delete(f"/wallet/mediations/{live['mediation_id']}").status_code == 404
    status = client.get(f"/mediator/api/help-requests/{request['request_id']}", headers=mediator)
    assert status.json()["status"] == "ended"
    ended = phone.get("/wallet/activity").json()["activity"][0]
    assert ended["kind"] == "mediation_ended" and ended["ended_by"] == "citizen"


def test_the_mediator_ends_it(client: TestClient[Any]) -> None:
    phone, mediator, request = _mediated(client)
    [live] = phone.get("/wallet/mediations").json()["mediations"]
    other = _mediator(client, "rui-costa")
    assert (
        client.delete(f"/mediator/api/mediations/{live['mediation_id']}", headers=other).status_code
        == 404
    )
    ended = client.delete(f"/mediator/api/mediations/{live['mediation_id']}", headers=mediator)
    assert ended.status_code == 204
    assert client.get("/wallet/activity", headers=_as(request)).status_code == 401
    assert phone.get("/wallet/activity").json()["activity"][0]["ended_by"] == "mediator"


def test_reading_the_log_again_a_minute_later_is_one_more_entry(
    client: TestClient[Any],
) -> None:
    phone, _, request = _mediated(client)
    context: WalletContext = client.app.state.wallet
    for _ in range(3):
        assert client.get("/wallet/activity", headers=_as(request)).status_code == 200
    clock = context.clock
    later = type("Later", (), {"now": staticmethod(lambda: clock.now() + 60)})()
    context.clock = later  # type: ignore[assignment]
    try:
        for _ in range(3):
            assert client.get("/wallet/activity", headers=_as(request)).status_code == 200
    finally:
        context.clock = clock
    looks = [
        entry
        for entry in phone.get("/wallet/activity").json()["activity"]
        if entry["kind"] == "mediator_acted"
    ]
    assert [entry["what"] for entry in looks] == ["activity", "activity"]


def test_a_mediation_expires(client: TestClient[Any]) -> None:
    phone, _, request = _mediated(client)
    context: WalletContext = client.app.state.wallet
    [live] = phone.get("/wallet/mediations").json()["mediations"]
    assert live["expires_at"] - live["started_at"] == 30 * 60
    clock = context.clock
    later = type("Later", (), {"now": staticmethod(lambda: clock.now() + 30 * 60 + 1)})()
    context.clock = later  # type: ignore[assignment]
    try:
        assert client.get("/wallet/credentials", headers=_as(request)).status_code == 401
        assert phone.get("/wallet/mediations").json()["mediations"] == []
    finally:
        context.clock = clock


def test_codes_are_single_use_expire_and_need_a_mediator_key(client: TestClient[Any]) -> None:
    assert client.post("/mediator/api/help-requests").status_code == 401
    wrong = {"Authorization": "Bearer not-a-mediator-key"}
    assert client.post("/mediator/api/help-requests", headers=wrong).status_code == 401
    phone = Phone(client)
    phone.register()
    request = _help_request(client, _mediator(client))
    assert phone.post("/wallet/mediations", {"code": request["code"]}).status_code == 201
    again = phone.post("/wallet/mediations", {"code": request["code"]})
    assert again.status_code == 404 and again.json()["error"] == "not_found"
    assert phone.post("/wallet/help-requests/lookup", {"code": request["code"]}).status_code == 404
    for junk in ("", "x" * 100, "ABCD-EFGH"):
        answer = phone.post("/wallet/mediations", {"code": junk})
        assert answer.status_code in (400, 404), answer.text
    assert phone.post("/wallet/mediations", {"cod": "ABCD-EFGH"}).status_code == 400

    late = _help_request(client, _mediator(client, "rui-costa"))
    context: WalletContext = client.app.state.wallet
    clock = context.clock
    context.clock = type("Later", (), {"now": staticmethod(lambda: clock.now() + 301)})()  # type: ignore[assignment]
    try:
        assert phone.post("/wallet/mediations", {"code": late["code"]}).status_code == 404
    finally:
        context.clock = clock


def test_one_code_starts_one_mediation_however_many_consent_at_once(
    client: TestClient[Any],
) -> None:
    phones = [Phone(client) for _ in range(6)]
    for phone in phones:
        phone.register()
    request = _help_request(client, _mediator(client))
    context: WalletContext = client.app.state.wallet

    async def consent_all() -> list[bool]:
        from wallet.services.help_requests import consent
        from wallet.services.sessions import Session

        async def one(phone: Phone) -> bool:
            try:
                await consent(context, Session(str(phone.account_id), ""), request["code"])
            except Exception:
                return False
            return True

        return list(await asyncio.gather(*(one(p) for p in phones)))

    won = client.blocking_portal.call(consent_all)
    assert sum(won) == 1
    winners = [p for p, w in zip(phones, won, strict=True) if w]
    assert len(winners[0].get("/wallet/mediations").json()["mediations"]) == 1
    assert all(
        p.get("/wallet/mediations").json()["mediations"] == []
        for p, w in zip(phones, won, strict=True)
        if not w
    )
    with ThreadPoolExecutor(4) as pool:  # over HTTP as well: every answer but one is 404
        second = _help_request(client, _mediator(client, "rui-costa"))
        answers = list(
            pool.map(
                lambda p: p.post("/wallet/mediations", {"code": second["code"]}).status_code, phones
            )
        )
    assert sorted(answers) == [201] + [404] * 5


def test_a_citizen_consents_by_presenting_the_national_id(client: TestClient[Any]) -> None:
    """The mediator's screen shows the consent counter's request; the citizen's own wallet
    presents the national ID to it; the mediation is bound to that wallet's account."""
    phone = Phone(client)
    phone.register()
    phone.receive(create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"])
    bystander = Phone(client)
    bystander.register()
    mediator = _mediator(client)
    created = client.post(
        "/mediator/api/help-requests", json={"consent": "national_id"}, headers=mediator
    )
    assert created.status_code == 201, created.text
    request = created.json()
    assert request["consent"] == "national_id"
    assert request["consent_uri"].startswith("openid4vp://")
    # the code of a national-ID request is no code a wallet can type
    assert phone.post("/wallet/mediations", {"code": request["code"]}).status_code == 404

    scanned = phone.scan(request["consent_uri"])
    assert scanned.status_code == 201, scanned.text
    consent = scanned.json()["presentation"]
    assert consent["verifier"]["name"] == "Citizen spaces"  # its certificate's organisation
    assert consent["purpose"]["id"] == "identification"
    assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"

    status = client.get(f"/mediator/api/help-requests/{request['request_id']}", headers=mediator)
    assert status.json()["status"] == "consented", status.text
    assert status.json()["proven_name"] == f"{CITIZEN['given_name']} {CITIZEN['family_name']}"
    [live] = phone.get("/wallet/mediations").json()["mediations"]
    assert live["mediation_id"] == status.json()["mediation"]["mediation_id"]
    assert bystander.get("/wallet/mediations").json()["mediations"] == []
    listed = client.get("/wallet/credentials", headers=_as(request))
    assert listed.status_code == 200 and len(listed.json()["credentials"]) == 1
    looked, started = phone.get("/wallet/activity").json()["activity"][:2]
    assert (looked["kind"], looked["what"]) == ("mediator_acted", "credentials")
    assert started["kind"] == "mediation_started" and started["mediator"] == "Ana Sousa"
    assert any(
        e.action == "mediation.started" and '"consent":"national_id"' in e.facts
        for e in _audit(client)
    )


def test_a_declined_or_mediated_presentation_is_no_consent(client: TestClient[Any]) -> None:
    phone, mediator, first = _mediated(client)
    phone.receive(create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"])
    asked = client.post(
        "/mediator/api/help-requests", json={"consent": "national_id"}, headers=mediator
    ).json()
    # presented through the mediation that exists: it never starts another
    scanned = client.post("/wallet/scans", json={"uri": asked["consent_uri"]}, headers=_as(first))
    assert scanned.status_code == 201, scanned.text
    presentation_id = scanned.json()["presentation"]["presentation_id"]
    approved = client.post(
        f"/wallet/presentations/{presentation_id}/approve", json={}, headers=_as(first)
    )
    assert approved.json()["outcome"] == "accepted"
    status = client.get(f"/mediator/api/help-requests/{asked['request_id']}", headers=mediator)
    assert status.json()["status"] == "waiting"
    assert len(phone.get("/wallet/mediations").json()["mediations"]) == 1

    declined = client.post(
        "/mediator/api/help-requests", json={"consent": "national_id"}, headers=mediator
    ).json()
    consent = phone.scan(declined["consent_uri"]).json()["presentation"]
    phone.post(f"/wallet/presentations/{consent['presentation_id']}/decline")
    status = client.get(f"/mediator/api/help-requests/{declined['request_id']}", headers=mediator)
    assert status.json()["status"] == "waiting"
    bad = client.post("/mediator/api/help-requests", json={"consent": "phone"}, headers=mediator)
    assert bad.status_code == 400


def test_the_account_deleted_takes_its_mediations_and_old_ones_are_forgotten(
    client: TestClient[Any],
) -> None:
    phone, mediator, request = _mediated(client)
    context: WalletContext = client.app.state.wallet
    [live] = phone.get("/wallet/mediations").json()["mediations"]
    # a day after it ended, the housekeeping forgets the mediation and its help request
    assert phone.delete(f"/wallet/mediations/{live['mediation_id']}").status_code == 204
    later = context.clock.now() + 2 * 24 * 3600 + 600

    async def purge() -> tuple[int, object, object]:
        forgotten = await context.mediations.purge(later)
        return (
            forgotten,
            await context.mediations.mediation(live["mediation_id"]),
            await context.mediations.help_request("ana-sousa", request["request_id"]),
        )

    forgotten, mediation, help_request = client.blocking_portal.call(purge)
    assert forgotten == 2 and mediation is None and help_request is None

    # an account deleted takes its live mediations with it
    second = _help_request(client, mediator)
    assert phone.post("/wallet/mediations", {"code": second["code"]}).status_code == 201
    assert client.get("/wallet/credentials", headers=_as(second)).status_code == 200
    assert phone.delete("/wallet/account").status_code == 204
    assert client.get("/wallet/credentials", headers=_as(second)).status_code == 401
    status = client.get(f"/mediator/api/help-requests/{second['request_id']}", headers=mediator)
    assert status.status_code == 404


def test_the_mediator_withdraws_a_help_request(client: TestClient[Any]) -> None:
    """Cancel on the mediator's screen: the code stops working at once; only the mediator's
    own request, and a request the citizen was quicker to consent to ends its mediation."""
    phone = Phone(client)
    phone.register()
    mediator = _mediator(client)
    other = _mediator(client, "rui-costa")
    request = _help_request(client, mediator)
    path = f"/mediator/api/help-requests/{request['request_id']}"
    assert client.delete(path, headers=other).status_code == 404  # not theirs
    unknown = client.delete("/mediator/api/help-requests/no-such-request", headers=mediator)
    assert unknown.status_code == 404, unknown.text
    assert client.delete(path).status_code == 401  # no mediator key
    assert client.delete(path, headers=mediator).status_code == 204
    assert client.get(path, headers=mediator).json()["status"] == "expired"
    assert phone.post("/wallet/help-requests/lookup", {"code": request["code"]}).status_code == 404
    assert phone.post("/wallet/mediations", {"code": request["code"]}).status_code == 404
    assert client.delete(path, headers=mediator).status_code == 204  # withdrawn already
    assert ("mediation.withdrawn", "ok") in [(e.action, e.outcome) for e in _audit(client)]

    # the citizen consented just before the cancel: the mediation ends with it
    quicker = _help_request(client, mediator)
    assert phone.post("/wallet/mediations", {"code": quicker["code"]}).status_code == 201
    assert client.get("/wallet/credentials", headers=_as(quicker)).status_code == 200
    withdrawn = client.delete(
        f"/mediator/api/help-requests/{quicker['request_id']}", headers=mediator
    )
    assert withdrawn.status_code == 204, withdrawn.text
    assert client.get("/wallet/credentials", headers=_as(quicker)).status_code == 401
    ended = phone.get("/wallet/activity").json()["activity"][0]
    assert ended["kind"] == "mediation_ended" and ended["ended_by"] == "mediator"
