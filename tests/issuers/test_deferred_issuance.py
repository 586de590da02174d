"""Deferred issuance over HTTP, on SQLite and PostgreSQL (OpenID4VCI 1.0 §8.3, §9, §11): a
credential a clerk approves first is answered 202 with a transaction_id; the wallet is told
to wait while no clerk decided; a clerk approves (or refuses) through the operator API; the
wallet then collects credentials bound to the keys it proved at the Credential Endpoint, and
tells the agency it kept them."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient
from sqlalchemy import select

from app import create_app
from app.settings import Settings
from core.encoding import b64url_decode
from core.keys.signer import SoftwareSigner
from core.status_list.bits import StatusList
from core.storage.audit_trail import AuditEntryRow
from issuers.ports import ApplicationDelivery, ApplicationStore
from tests.issuers.concurrent_client import concurrent_client
from tests.issuers.conftest import PUBLIC_BASE_URL, without_rate_limits
from tests.issuers.test_catalog import DRIVER
from tests.issuers.test_issuance import _reference_verifies, create_offer, operator_key
from tests.issuers.wallet import PRE_AUTHORIZED_GRANT, Request, Wallet, path_of, proof
from tests.support.write_load import operator_headers

AGENCY = "transport-agency"
PROFESSIONAL = "professional_driving_licence"
LORRY_DRIVER = {
    **DRIVER,
    "driving_privileges": [
        {"vehicle_category_code": "C", "issue_date": "2004-03-22", "expiry_date": "2029-03-22"}
    ],
}
APPLICATIONS = f"/issuers/{AGENCY}/applications"


def _operator(client: TestClient[Any], issuer_id: str = AGENCY) -> dict[str, str]:
    return {"Authorization": f"Bearer {operator_key(client, issuer_id)}"}


def apply_for_professional_licence(client: Any, operator_key: str, subject: str) -> Request:
    """Over a test client or an ``httpx`` client of a running server: a clerk's offer of
    the professional licence, and a wallet's credential request for it, deferred (202)."""
    created = client.post(
        f"/issuers/{AGENCY}/offers",
        json={
            "subject_id": subject,
            "credential_configuration_id": PROFESSIONAL,
            "claims": LORRY_DRIVER,
        },
        headers={"Authorization": f"Bearer {operator_key}"},
    )
    assert created.status_code == 201, created.text
    asked = Wallet(client).request(created.json()["offer_uri"])
    assert asked.response.status_code == 202, asked.response.text
    return asked


def _apply(
    client: TestClient[Any], *, batch: int = 1, subject: str = "driver-7"
) -> tuple[Wallet, Request]:
    """A clerk's offer of the professional licence, and the wallet's credential request."""
    created = create_offer(client, AGENCY, PROFESSIONAL, LORRY_DRIVER, subject=subject)
    wallet = Wallet(client)
    return wallet, wallet.request(created["offer_uri"], batch=batch)


def _deferred(client: TestClient[Any], asked: Request) -> str:
    """The 202 answer of the Credential Endpoint: its transaction_id."""
    response = asked.response
    assert response.status_code == 202, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"transaction_id", "interval"} and body["interval"] == 300
    transaction_id: str = body["transaction_id"]
    assert len(transaction_id) >= 43
    return transaction_id


def _pending_application(client: TestClient[Any], subject: str = "driver-7") -> dict[str, Any]:
    listed = client.get(APPLICATIONS, params={"state": "pending"}, headers=_operator(client))
    assert listed.status_code == 200, listed.text
    mine = [a for a in listed.json()["applications"] if a["subject_id"] == subject]
    assert len(mine) == 1, listed.json()
    application: dict[str, Any] = mine[0]
    return application


@contextmanager
def _later(client: TestClient[Any], seconds: float) -> Iterator[None]:
    """The agency's clock ``seconds`` ahead while inside."""
    context = client.app.state.issuers
    real_now = context.clock.now

    class Later:
        def now(self) -> float:
            return real_now() + seconds

    object.__setattr__(context, "clock", Later())
    try:
        yield
    finally:
        object.__setattr__(context, "clock", type(context).__dataclass_fields__["clock"].default)


def _payload(credential: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(
        b64url_decode(credential.split("~", maxsplit=1)[0].split(".")[1])
    )
    return payload


def test_a_clerk_approves_and_the_wallet_collects_the_credentials(
    client: TestClient[Any],
) -> None:
    metadata = Wallet(client).metadata(f"{PUBLIC_BASE_URL}/issuers/{AGENCY}")
    assert metadata["deferred_credential_endpoint"] == (
        f"{PUBLIC_BASE_URL}/issuers/{AGENCY}/deferred_credential"
    )
    civil = Wallet(client).metadata(f"{PUBLIC_BASE_URL}/issuers/civil-registry")
    assert "deferred_credential_endpoint" not in civil  # it issues everything at once
    configurations = client.get(f"/issuers/{AGENCY}/configurations", headers=_operator(client))
    reasons = {
        c["credential_configuration_id"]: c.get("approval_reason")
        for c in configurations.json()["configurations"]
    }
    assert reasons["driving_licence"] is None
    assert {r["locale"] for r in reasons[PROFESSIONAL]} == {"en", "de", "fr"}

    wallet, asked = _apply(client, batch=2)
    transaction_id = _deferred(client, asked)
    # the grant is used up: another credential request with the token is refused
    other_key = proof(
        wallet.new_holder(), asked.metadata["credential_issuer"], wallet.nonce(asked.metadata)
    )
    again = wallet.credential(
        asked.metadata, asked.access_token, {**asked.body, "proofs": {"jwt": [other_key]}}
    )
    assert again.status_code == 401 and again.json()["error"] == "invalid_token"

    pending = wallet.deferred_credential(asked.metadata, asked.access_token, transaction_id)
    assert pending.status_code == 202, pending.text
    assert pending.headers["cache-control"] == "no-store"
    assert pending.json() == {"transaction_id": transaction_id, "interval": 300}

    application = _pending_application(client)
    assert application["credential_configuration_id"] == PROFESSIONAL
    assert application["claims"] == LORRY_DRIVER
    assert application["credentials"] == 2 and application["decided_at"] is None
    assert application["requested_at"].endswith("Z") and application["state"] == "pending"

    approved = client.post(
        f"{APPLICATIONS}/{application['application_id']}/approve", headers=_operator(client)
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved" and approved.json()["decided_at"]

    collected = wallet.deferred_credential(asked.metadata, asked.access_token, transaction_id)
    assert collected.status_code == 200, collected.text
    body = collected.json()
    assert set(body) == {"credentials", "notification_id"}
    credentials = [c["credential"] for c in body["credentials"]]
    payloads = [_payload(c) for c in credentials]
    assert [p["cnf"]["jwk"]["x"] for p in payloads] == [h.public_jwk()["x"] for h in asked.holders]
    assert {p["vct"] for p in payloads} == {
        f"{PUBLIC_BASE_URL}/issuers/{AGENCY}/types/{PROFESSIONAL}"
    }
    verified = _reference_verifies(
        client,
        credentials[0],
        asked.holders[0],
        {"family_name": True, "driving_privileges": [True]},
    )
    assert verified["family_name"] == "Mustermann"
    assert verified["driving_privileges"] == LORRY_DRIVER["driving_privileges"]
    for payload in payloads:  # each on the agency's status list, valid
        reference = payload["status"]["status_list"]
        published = client.get(path_of(reference["uri"]))
        bits = json.loads(b64url_decode(published.text.split(".")[1]))["status_list"]
        assert StatusList.from_json(bits).get(reference["idx"]) == 0

    # the same request again (its answer lost on the way): the same credentials
    repeated = wallet.deferred_credential(asked.metadata, asked.access_token, transaction_id)
    assert repeated.status_code == 200 and repeated.json() == body

    subject = client.get(f"/issuers/{AGENCY}/subjects/driver-7", headers=_operator(client)).json()
    ledger = subject["credentials"]
    assert len(ledger) == 2 and {c["credential_configuration_id"] for c in ledger} == {PROFESSIONAL}
    assert {c["status_idx"] for c in ledger} == {
        p["status"]["status_list"]["idx"] for p in payloads
    }
    assert [c["wallet_notification"] for c in ledger] == [None, None]
    notified = client.post(
        path_of(asked.metadata["notification_endpoint"]),
        json={"notification_id": body["notification_id"], "event": "credential_accepted"},
        headers={"Authorization": f"Bearer {asked.access_token}"},
    )
    assert notified.status_code == 204, notified.text
    subject = client.get(f"/issuers/{AGENCY}/subjects/driver-7", headers=_operator(client)).json()
    assert [c["wallet_notification"] for c in subject["credentials"]] == ["credential_accepted"] * 2

    ended = client.get(APPLICATIONS, params={"state": "delivered"}, headers=_operator(client))
    [delivered] = ended.json()["applications"]
    assert delivered["claims"] == {} and delivered["credentials"] == 0

    audit = client.get(f"/issuers/{AGENCY}/audit", headers=_operator(client)).json()["events"]
    decision = next(e for e in audit if e["action"] == "application.approve")
    assert decision["object_id"] == application["application_id"]
    assert decision["outcome"] == "approved" and decision["detail"] == PROFESSIONAL
    assert "driver-7" not in json.dumps(audit[0]) and "Mustermann" not in json.dumps(audit)


def test_a_lost_credential_response_is_answered_again_with_its_transaction_id(
    client: TestClient[Any],
) -> None:
    wallet, asked = _apply(client)
    transaction_id = _deferred(client, asked)
    repeated = wallet.credential(asked.metadata, asked.access_token, asked.body)
    assert repeated.status_code == 202, repeated.text
    assert repeated.json()["transaction_id"] == transaction_id
    assert len(client.get(APPLICATIONS, headers=_operator(client)).json()["applications"]) == 1


def _trail(client: TestClient[Any]) -> list[tuple[str, str, str, str]]:
    deployment = client.app.state.deployment

    async def read() -> list[tuple[str, str, str, str]]:
        async with deployment.sessions() as session:
            rows = await session.execute(
                select(
                    AuditEntryRow.actor_kind,
                    AuditEntryRow.actor,
                    AuditEntryRow.action,
                    AuditEntryRow.facts,
                )
            )
            return [tuple(row) for row in rows.all()]  # type: ignore[misc]

    with client.portal() as portal:
        return portal.call(read)


def test_a_refused_application_is_denied_and_the_reason_stays_with_the_agency(
    client: TestClient[Any],
) -> None:
    wallet, asked = _apply(client)
    transaction_id = _deferred(client, asked)
    application = _pending_application(client)
    reason = "medical certificate older than three months"
    refused = client.post(
        f"{APPLICATIONS}/{application['application_id']}/refuse",
        json={"reason": reason},
        headers=_operator(client),
    )
    assert refused.status_code == 200, refused.text
    assert refused.json()["state"] == "refused" and refused.json()["refusal_reason"] == reason
    assert refused.json()["claims"] == {}  # forgotten with the refusal

    denied = wallet.deferred_credential(asked.metadata, asked.access_token, transaction_id)
    assert denied.status_code == 400
    assert denied.json()["error"] == "credential_request_denied"
    assert "medical" not in denied.text
    listed = client.get(APPLICATIONS, params={"state": "refused"}, headers=_operator(client))
    [shown] = listed.json()["applications"]
    assert shown["refusal_reason"] == reason and shown["claims"] == {}
    audit = client.get(f"/issuers/{AGENCY}/audit", headers=_operator(client)).json()["events"]
    assert audit[0]["action"] == "application.refuse" and "medical" not in json.dumps(audit)
    # the deployment's trail has the decision and the configuration, not the application
    trail = _trail(client)
    assert (
        "operator",
        AGENCY,
        "application.refused",
        '{"credential_configuration":"professional_driving_licence"}',
    ) in trail
    assert application["application_id"] not in repr(trail) and "medical" not in repr(trail)

    approve = client.post(
        f"{APPLICATIONS}/{application['application_id']}/approve", headers=_operator(client)
    )
    assert approve.status_code == 409 and approve.json()["state"] == "refused"
    no_reason = client.post(  # the reason is optional for a script
        f"{APPLICATIONS}/{application['application_id']}/refuse", json={}, headers=_operator(client)
    )
    assert no_reason.status_code == 409


def test_unknown_foreign_and_used_transaction_ids(client: TestClient[Any]) -> None:
    wallet, first = _apply(client, subject="driver-1")
    first_id = _deferred(client, first)
    _, second = _apply(client, subject="driver-2")
    second_id = _deferred(client, second)

    def ask(asked: Request, transaction_id: str) -> Any:
        return wallet.deferred_credential(asked.metadata, asked.access_token, transaction_id)

    for transaction_id in ("not-a-transaction", second_id):
        answer = ask(first, transaction_id)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "invalid_transaction_id"
    malformed = client.post(
        f"/issuers/{AGENCY}/deferred_credential",
        json={"transaction": first_id},
        headers={"Authorization": f"Bearer {first.access_token}"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "invalid_credential_request"
    # another agency's endpoint does not know the token; an unknown agency is not there
    foreign = client.post(
        "/issuers/civil-registry/deferred_credential",
        json={"transaction_id": first_id},
        headers={"Authorization": f"Bearer {first.access_token}"},
    )
    assert foreign.status_code == 401 and foreign.json()["error"] == "invalid_token"
    nowhere = client.post(
        "/issuers/no-such-agency/deferred_credential",
        json={"transaction_id": first_id},
        headers={"Authorization": f"Bearer {first.access_token}"},
    )
    assert nowhere.status_code == 404

    # once collected, and its repeat window closed, the transaction_id is used up
    application = _pending_application(client, "driver-1")
    client.post(
        f"{APPLICATIONS}/{application['application_id']}/approve", headers=_operator(client)
    )
    assert ask(first, first_id).status_code == 200
    lifetime = client.app.state.issuers.policy.deferred_response_lifetime
    with _later(client, lifetime + 1):
        used = ask(first, first_id)
        assert used.status_code == 400 and used.json()["error"] == "invalid_transaction_id"
        notified = client.post(
            path_of(first.metadata["notification_endpoint"]),
            json={"notification_id": "anything", "event": "credential_accepted"},
            headers={"Authorization": f"Bearer {first.access_token}"},
        )
        assert notified.status_code == 401
        still_pending = ask(second, second_id)  # the other one waits for its clerk
        assert still_pending.status_code == 202


def test_the_access_token_must_be_the_one_that_asked(client: TestClient[Any]) -> None:
    wallet, first = _apply(client, subject="driver-1")
    first_id = _deferred(client, first)
    _, second = _apply(client, subject="driver-2")
    _deferred(client, second)
    endpoint = f"/issuers/{AGENCY}/deferred_credential"
    for headers in (
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Basic {first.access_token}"},
    ):
        answer = client.post(endpoint, json={"transaction_id": first_id}, headers=headers)
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
        assert answer.headers["www-authenticate"].startswith("Bearer")
    in_query = client.post(
        f"{endpoint}?access_token={first.access_token}", json={"transaction_id": first_id}
    )
    assert in_query.status_code == 401
    # the other application's token does not collect this one's credentials
    crossed = wallet.deferred_credential(second.metadata, second.access_token, first_id)
    assert crossed.status_code == 400 and crossed.json()["error"] == "invalid_transaction_id"
    # nor does a token that made no application (an immediate credential's)
    created = create_offer(client, AGENCY, "driving_licence", DRIVER)
    immediate = wallet.request(created["offer_uri"])
    assert immediate.response.status_code == 200
    other = wallet.deferred_credential(first.metadata, immediate.access_token, first_id)
    assert other.status_code == 401 and other.json()["error"] == "invalid_token"


def test_deciding_an_application_once_and_only_its_own_agency(client: TestClient[Any]) -> None:
    _apply(client)
    application_id = _pending_application(client)["application_id"]
    civil = _operator(client, "civil-registry")
    assert client.post(f"{APPLICATIONS}/{application_id}/approve", headers=civil).status_code == 401
    elsewhere = f"/issuers/civil-registry/applications/{application_id}/approve"
    assert client.post(elsewhere, headers=civil).status_code == 404
    assert client.get("/issuers/civil-registry/applications", headers=civil).json() == {
        "applications": []
    }
    for unknown in ("0" * 32, "no such one", "x" * 65):
        answer = client.post(f"{APPLICATIONS}/{unknown}/approve", headers=_operator(client))
        assert answer.status_code == 404, unknown
    first = client.post(f"{APPLICATIONS}/{application_id}/approve", headers=_operator(client))
    assert first.status_code == 200
    twice = client.post(f"{APPLICATIONS}/{application_id}/approve", headers=_operator(client))
    assert twice.status_code == 409 and twice.json()["state"] == "approved"
    refuse = client.post(
        f"{APPLICATIONS}/{application_id}/refuse",
        json={"reason": "late"},
        headers=_operator(client),
    )
    assert refuse.status_code == 409
    bad_filter = client.get(APPLICATIONS, params={"state": "lost"}, headers=_operator(client))
    assert bad_filter.status_code == 400
    unknown_parameter = client.get(APPLICATIONS, params={"who": "x"}, headers=_operator(client))
    assert unknown_parameter.status_code == 400
    audit = client.get(f"/issuers/{AGENCY}/audit", headers=_operator(client)).json()["events"]
    assert [e["action"] for e in audit].count("application.approve") == 1


def test_twenty_clerks_approving_at_once_make_one_decision(settings: Settings) -> None:
    async def run() -> None:
        app = create_app(without_rate_limits(settings))
        async with concurrent_client(app) as client:
            created = await client.post(
                f"/issuers/{AGENCY}/offers",
                json={
                    "subject_id": "driver-9",
                    "credential_configuration_id": PROFESSIONAL,
                    "claims": LORRY_DRIVER,
                },
                headers=operator_headers(settings.var_dir, AGENCY),
            )
            assert created.status_code == 201
            listed = await _ask_and_list(client, settings, created.json())
            application_id = listed["application_id"]
            headers = operator_headers(settings.var_dir, AGENCY)
            answers = await asyncio.gather(
                *(
                    client.post(f"{APPLICATIONS}/{application_id}/approve", headers=headers)
                    if i % 2
                    else client.post(
                        f"{APPLICATIONS}/{application_id}/refuse",
                        json={"reason": f"clerk {i}"},
                        headers=headers,
                    )
                    for i in range(20)
                )
            )
            statuses = sorted(a.status_code for a in answers)
            assert statuses == [200] + [409] * 19, statuses
            winner = next(a for a in answers if a.status_code == 200).json()["state"]
            assert {a.json()["state"] for a in answers if a.status_code == 409} == {winner}
            audit = await client.get(f"/issuers/{AGENCY}/audit", headers=headers)
            decisions = [
                e for e in audit.json()["events"] if e["action"].startswith("application.")
            ]
            assert len(decisions) == 1 and decisions[0]["outcome"] == winner

    asyncio.run(run())


async def _ask_and_list(
    client: httpx.AsyncClient, settings: Settings, created: dict[str, Any]
) -> dict[str, Any]:
    """The wallet's side of an offer over an async client, as far as the 202; then the
    application the clerk sees."""
    grant = created["credential_offer"]["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
    token = await client.post(
        f"/issuers/{AGENCY}/token",
        data={"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": grant},
    )
    assert token.status_code == 200, token.text
    nonce = (await client.post(f"/issuers/{AGENCY}/nonce")).json()["c_nonce"]
    holder = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
    asked = await client.post(
        f"/issuers/{AGENCY}/credential",
        json={
            "credential_configuration_id": PROFESSIONAL,
            "proofs": {"jwt": [proof(holder, f"{PUBLIC_BASE_URL}/issuers/{AGENCY}", nonce)]},
        },
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    assert asked.status_code == 202, asked.text
    listed = await client.get(
        APPLICATIONS,
        params={"state": "pending"},
        headers=operator_headers(settings.var_dir, AGENCY),
    )
    application: dict[str, Any] = listed.json()["applications"][0]
    return application


def test_an_application_waits_no_longer_than_the_agency_says(client: TestClient[Any]) -> None:
    wallet, asked = _apply(client)
    transaction_id = _deferred(client, asked)
    application = _pending_application(client)
    lifetime = client.app.state.issuers.agency(AGENCY).deferred_issuance.application_lifetime
    assert lifetime == 14 * 86400
    with _later(client, lifetime + 1):
        late = client.post(
            f"{APPLICATIONS}/{application['application_id']}/approve", headers=_operator(client)
        )
        assert late.status_code == 409 and late.json()["state"] == "expired"
        expired = client.get(APPLICATIONS, params={"state": "expired"}, headers=_operator(client))
        [shown] = expired.json()["applications"]
        assert shown["state"] == "expired" and shown["claims"] == {}
        denied = wallet.deferred_credential(asked.metadata, asked.access_token, transaction_id)
        assert denied.status_code == 400
        assert denied.json()["error"] == "credential_request_denied"
        assert client.get(
            APPLICATIONS, params={"state": "pending"}, headers=_operator(client)
        ).json() == {"applications": []}


class _CollectedElsewhereFirst:
    """The real store, except that the first delivery finds the application moved by
    another request of the wallet whose transaction was then undone (a failure on its way)."""

    def __init__(self, store: ApplicationStore) -> None:
        self._store = store
        self.refused_deliveries = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @asynccontextmanager
    async def open_delivery(
        self, issuer_id: str, application_id: str, now: float
    ) -> AsyncIterator[ApplicationDelivery | None]:
        if not self.refused_deliveries:
            self.refused_deliveries += 1
            yield None
            return
        async with self._store.open_delivery(issuer_id, application_id, now) as work:
            yield work


def test_a_collection_undone_elsewhere_tells_the_wallet_to_ask_again(
    client: TestClient[Any],
) -> None:
    wallet, asked = _apply(client)
    transaction_id = _deferred(client, asked)
    application_id = _pending_application(client)["application_id"]
    client.post(f"{APPLICATIONS}/{application_id}/approve", headers=_operator(client))
    context = client.app.state.issuers
    client.app.state.issuers = dataclasses.replace(
        context, applications=_CollectedElsewhereFirst(context.applications)
    )
    again = wallet.deferred_credential(asked.metadata, asked.access_token, transaction_id)
    assert again.status_code == 202, again.text
    assert again.json() == {"transaction_id": transaction_id, "interval": 300}
    collected = wallet.deferred_credential(asked.metadata, asked.access_token, transaction_id)
    assert collected.status_code == 200 and len(collected.json()["credentials"]) == 1


def test_a_dpop_bound_token_collects_its_credential_only_with_a_proof_of_its_key(
    client: TestClient[Any],
) -> None:
    """The application keeps the binding of the token that asked (RFC 9449 §7): at the
    Deferred Credential Endpoint the token is taken only with the DPoP scheme and a proof
    of that key, as at the Credential Endpoint."""
    created = create_offer(client, AGENCY, PROFESSIONAL, LORRY_DRIVER, subject="driver-9")
    wallet = Wallet(client, dpop_key=ec.generate_private_key(ec.SECP256R1()))
    asked = wallet.request(created["offer_uri"])
    transaction_id = _deferred(client, asked)
    assert asked.response.headers["dpop-nonce"]
    application = _pending_application(client, "driver-9")
    approved = client.post(
        f"{APPLICATIONS}/{application['application_id']}/approve", headers=_operator(client)
    )
    assert approved.status_code == 200, approved.text
    endpoint = path_of(asked.metadata["deferred_credential_endpoint"])
    as_bearer = client.post(
        endpoint,
        json={"transaction_id": transaction_id},
        headers={"Authorization": f"Bearer {asked.access_token}"},
    )
    assert as_bearer.status_code == 401 and as_bearer.json()["error"] == "invalid_token"
    thief = Wallet(client, dpop_key=ec.generate_private_key(ec.SECP256R1()))
    thief.dpop_nonce = wallet.dpop_nonce
    stolen = thief.deferred_credential(asked.metadata, asked.access_token, transaction_id)
    assert stolen.status_code == 401
    assert stolen.headers["www-authenticate"].startswith('DPoP error="invalid_token"')
    collected = wallet.deferred_credential(asked.metadata, asked.access_token, transaction_id)
    assert collected.status_code == 200, collected.text
    assert len(collected.json()["credentials"]) == 1
