"""Accounts, devices and sessions: possession of the device key, single-use challenges
(also under concurrency), rotating refresh tokens whose reuse revokes the family, a lost
phone revoked at once, and an account deleted with everything in it."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.wallet.phone import Phone
from tests.wallet.test_mediation import _audit

CONCURRENT = 8


def test_register_login_and_refresh_rotation(client: TestClient[Any]) -> None:
    phone = Phone(client)
    first = phone.register()
    assert first["token_type"] == "Bearer" and first["expires_in"] == 300
    assert phone.get("/wallet/devices").json()["devices"][0]["name"] == "test phone"
    phone.login()
    refresh = phone.refresh_token
    rotated = client.post("/wallet/sessions/refresh", json={"refresh_token": refresh})
    assert rotated.status_code == 200
    fresh = rotated.json()["refresh_token"]
    replayed = client.post("/wallet/sessions/refresh", json={"refresh_token": refresh})
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
    # the reuse revoked the whole family: the token handed out by the rotation is dead too
    after = client.post("/wallet/sessions/refresh", json={"refresh_token": fresh})
    assert after.status_code == 400


def test_device_proofs_are_checked(client: TestClient[Any]) -> None:
    phone = Phone(client)
    for overrides in (
        {"aud": "https://elsewhere.example/wallet"},
        {"iat": int(time.time()) - 3600},
    ):
        response = client.post(
            "/wallet/accounts", json={"device_proof": phone.proof(by_kid=False, **overrides)}
        )
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    used = phone.proof(by_kid=False)
    assert client.post("/wallet/accounts", json={"device_proof": used}).status_code == 201
    again = client.post("/wallet/accounts", json={"device_proof": used})
    assert again.status_code == 400  # the challenge was single-use
    stranger = Phone(client)
    stranger.device_id = phone.device_id  # claims another phone's device id, signs with its own key
    response = client.post("/wallet/sessions", json={"device_proof": stranger.proof(by_kid=True)})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    for junk in ("", "a.b.c", "x" * 5000, 42):
        response = client.post("/wallet/accounts", json={"device_proof": junk})
        assert response.status_code == 400, response.text


def test_a_challenge_is_used_once_under_concurrency(client: TestClient[Any]) -> None:
    phones = [Phone(client) for _ in range(CONCURRENT)]
    challenge = phones[0].challenge()
    proofs = []
    for phone in phones:
        phone.challenge = lambda: challenge  # type: ignore[method-assign]
        proofs.append(phone.proof(by_kid=False))

    async def register_all(app: Any) -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as http:
            responses = await asyncio.gather(
                *(http.post("/wallet/accounts", json={"device_proof": p}) for p in proofs)
            )
        return [r.status_code for r in responses]

    statuses = client.blocking_portal.call(register_all, client.app)
    assert sorted(statuses) == [201] + [400] * (CONCURRENT - 1)


def test_a_login_spends_its_challenge_once_under_concurrency(client: TestClient[Any]) -> None:
    """A login spends its challenge in the statement that stores its session: of the same
    proof sent at once, one opens a session and the others open none."""
    phone = Phone(client)
    phone.register()
    proof = phone.proof(by_kid=True)

    async def login_all(app: Any) -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as http:
            responses = await asyncio.gather(
                *(
                    http.post("/wallet/sessions", json={"device_proof": proof})
                    for _ in range(CONCURRENT)
                )
            )
        return [r.status_code for r in responses]

    statuses = client.blocking_portal.call(login_all, client.app)
    assert sorted(statuses) == [200] + [400] * (CONCURRENT - 1)


def test_only_the_wallets_own_unexpired_challenges_sign_in(client: TestClient[Any]) -> None:
    phone = Phone(client)
    real = phone.challenge()
    body, _, mac = real.rpartition(".")
    random_part, _, expiry = body.partition(".")
    made_up = [
        f"{random_part}.{int(expiry) + 3600}.{mac}",  # a longer life under the old MAC
        f"{random_part}x.{expiry}.{mac}",  # another value under the old MAC
        f"{body}.{'A' * len(mac)}",  # a MAC of its own
        f"{random_part}.{int(time.time()) - 1}.{mac}",  # already expired
        "0" * 43,  # the shape of challenges that were once stored
    ]
    for challenge in made_up:
        proof = phone.proof(by_kid=False, nonce=challenge)
        response = client.post("/wallet/accounts", json={"device_proof": proof})
        assert response.status_code == 400, challenge
        assert response.json()["error"] == "invalid_grant"
    expired = Phone(client)
    expired_challenge = expired.challenge()
    context = client.app.state.wallet
    lifetime = context.policy.challenge_lifetime
    later = time.time() + lifetime + 1

    class _Later:
        def now(self) -> float:
            return later

    client.app.state.wallet = dataclasses.replace(context, clock=_Later())
    try:
        proof = expired.proof(by_kid=False, nonce=expired_challenge, iat=int(later))
        response = client.post("/wallet/accounts", json={"device_proof": proof})
        assert response.status_code == 400, response.text
        assert "expired" in response.json()["error_description"]
    finally:
        client.app.state.wallet = context
    # the real one still signs in, once
    assert (
        client.post(
            "/wallet/accounts", json={"device_proof": phone.proof(by_kid=False, nonce=real)}
        ).status_code
        == 201
    )


def test_a_lost_phone_is_revoked_at_once(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    second = Phone(client)
    added = client.post(
        "/wallet/devices",
        json={"device_proof": second.proof(by_kid=False), "device_name": "tablet"},
        headers=phone.headers,
    )
    assert added.status_code == 201
    second.device_id = added.json()["device_id"]
    [entry] = [e for e in _audit(client) if e.action == "wallet.device_added"]
    assert (entry.actor_kind, entry.actor, entry.facts) == ("citizen", "", "{}")
    assert entry.subject_key and second.device_id not in str(vars(entry))
    second.login()
    assert second.get("/wallet/credentials").status_code == 200
    assert phone.delete(f"/wallet/devices/{second.device_id}").status_code == 204
    assert second.get("/wallet/credentials").status_code == 401  # the token it holds is dead
    refreshed = client.post(
        "/wallet/sessions/refresh", json={"refresh_token": second.refresh_token}
    )
    assert refreshed.status_code == 400
    assert (
        client.post(
            "/wallet/sessions", json={"device_proof": second.proof(by_kid=True)}
        ).status_code
        == 400
    )
    kinds = [a["kind"] for a in phone.get("/wallet/activity").json()["activity"]]
    assert kinds[:2] == ["device_revoked", "device_registered"]


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer x.y.z", "Basic abc", "Bearer " + "a" * 3000]
)
def test_the_mobile_api_needs_a_session(client: TestClient[Any], authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/wallet/credentials", headers=headers)
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"


def test_deleting_the_account_erases_everything(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN)
    phone.receive(offer["offer_uri"])
    assert phone.delete("/wallet/account").status_code == 204
    assert phone.get("/wallet/credentials").status_code == 401
    assert (
        client.post("/wallet/sessions", json={"device_proof": phone.proof(by_kid=True)}).status_code
        == 400
    )


@pytest.mark.parametrize(
    ("path", "body", "described"),
    [
        ("/wallet/accounts", {"device_proof": "a.b.c", "devise_name": "x"}, "devise_name"),
        ("/wallet/accounts", {"device_proof": 42}, "$.device_proof: expected a string"),
        ("/wallet/accounts", {"device_proof": "a.b.c", "device_name": ""}, "$.device_name"),
        ("/wallet/sessions", {}, "device_proof"),
        ("/wallet/sessions/refresh", {"refresh_token": ["t"]}, "$.refresh_token"),
        ("/wallet/sessions/refresh", [1], "expected an object"),
    ],
)
def test_account_bodies_are_the_documented_messages_and_nothing_else(
    client: TestClient[Any], path: str, body: object, described: str
) -> None:
    """The mobile API's own bodies: an unknown member (a typo in an app) is refused, not
    ignored, and every refusal names the member in our words."""
    response = client.post(path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert described in response.json()["error_description"]


def test_the_session_is_checked_before_the_body_is_read(client: TestClient[Any]) -> None:
    response = client.post(
        "/wallet/devices", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    phone = Phone(client)
    phone.register()
    response = phone.post("/wallet/devices", {"device_proof": "a.b.c", "extra": True})
    assert response.status_code == 400 and "extra" in response.json()["error_description"]
