"""Refresh tokens of the authorization code flow over HTTP, on SQLite and PostgreSQL (RFC
6749 §6, RFC 9700 §4.14, RFC 9449 §5, RFC 7009): a wallet fetches a fresh batch later
without the citizen signing in again, with its attestation and a DPoP proof of the key
the token is bound to; each token is exchanged once for its successor, a reused one ends
its family, and so do the revocation of the credential, the wallet's revocation request
and the citizen leaving the register. A refresh carries what the register says now."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient

from app import create_app
from app.settings import Settings
from core.encoding import b64url_decode
from core.errors import InvalidGrant
from core.keys.signer import SoftwareSigner
from core.messages import convert_message
from core.oauth import TokenRequest
from issuers.registers.file import FileRegister
from issuers.services.exchange_refresh_token import exchange_refresh_token
from oversight.domain import CountedGroup
from oversight.services.read_figures import tabulate
from oversight.storage.sql import decode_facts
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_authorization_endpoints import (
    ISSUER,
    TRUSTED,
    _authenticated,
    _authorize,
    _par,
    _redirected,
    _token,
)
from tests.issuers.test_issuance import operator_key
from tests.issuers.wallet import Wallet, proof
from tests.support.wallet_provider import CLIENT_ID, new_instance
from tests.wallet.test_mediation import _audit


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    changed = dataclasses.replace(
        settings, wallet_provider_anchors=(TRUSTED.root,), test_citizen="demo-citizen"
    )
    with TestClient(app=create_app(changed), base_url=PUBLIC_BASE_URL) as client:
        yield client


@pytest.fixture
def instance() -> SoftwareSigner:
    return new_instance()


@pytest.fixture
def wallet(client: TestClient[Any]) -> Wallet:
    return Wallet(client, dpop_key=ec.generate_private_key(ec.SECP256R1()))


def _signed_in(client: TestClient[Any], instance: SoftwareSigner, wallet: Wallet) -> Any:
    """The tokens of one authorization code flow."""
    pushed = _par(client, _authenticated(instance))
    code = _redirected(_authorize(client, pushed.json()["request_uri"]))["code"]
    answer = _token(client, _authenticated(instance), code, dpop_key=wallet.dpop_key)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _refresh(
    wallet: Wallet, instance: SoftwareSigner | None, refresh_token: str, **change: str
) -> Any:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **change}
    headers = {} if instance is None else _authenticated(instance)
    return wallet.post_with_dpop(f"{ISSUER}/token", headers=headers, data=form)


def _credential_claims(wallet: Wallet, access_token: str) -> dict[str, Any]:
    metadata = wallet.metadata(ISSUER)
    holder = wallet.new_holder()
    answer = wallet.credential(
        metadata,
        access_token,
        {
            "credential_configuration_id": "national_id",
            "proofs": {"jwt": [proof(holder, ISSUER, wallet.nonce(metadata))]},
        },
    )
    assert answer.status_code == 200, answer.text
    [issued] = answer.json()["credentials"]
    _, *disclosures = issued["credential"].rstrip("~").split("~")
    return {
        item[1]: item[2]
        for item in (json.loads(b64url_decode(d)) for d in disclosures)
        if len(item) == 3
    }


def _change_register(client: TestClient[Any], subject: str, claims: dict[str, Any] | None) -> None:
    """The agency's register as the running deployment sees it, after a change."""
    context = client.app.state.issuers
    agency = context.agency("civil-registry")
    register = dict(agency.register)
    if claims is None:
        register.pop(subject)
    else:
        register[subject] = {**register[subject], "national_id": claims}
    agencies = {
        **context.agencies,
        "civil-registry": dataclasses.replace(agency, register=register),
    }
    client.app.state.issuers = dataclasses.replace(
        context, agencies=agencies, register=FileRegister(agencies)
    )


def test_a_wallet_refreshes_without_a_new_sign_in_and_gets_what_the_register_says_now(
    client: TestClient[Any], instance: SoftwareSigner, wallet: Wallet
) -> None:
    first = _signed_in(client, instance, wallet)
    assert first["refresh_token"] and first["token_type"] == "DPoP"
    before = _credential_claims(wallet, first["access_token"])
    register = client.app.state.issuers.agency("civil-registry").register["demo-citizen"]
    moved = {**register["national_id"], "family_name": "Renamed"}
    _change_register(client, "demo-citizen", moved)

    refreshed = _refresh(wallet, instance, first["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["token_type"] == "DPoP" and body["refresh_token"] != first["refresh_token"]
    after = _credential_claims(wallet, body["access_token"])
    assert before["family_name"] != "Renamed" and after["family_name"] == "Renamed"
    # the successor works in turn
    assert _refresh(wallet, instance, body["refresh_token"]).status_code == 200

    events = client.get(
        "/issuers/civil-registry/audit",
        headers={"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"},
    )
    assert events.status_code == 200, events.text
    refreshes = [e for e in events.json()["events"] if e["action"] == "credential.refresh"]
    assert [e["outcome"] for e in refreshes] == ["refreshed", "refreshed"]
    # each refresh is an issuance from the register, audited as one
    made = [e for e in events.json()["events"] if e["outcome"] == "refreshed"]
    assert {e["action"] for e in made} == {"credential.refresh", "offer.create"}


def test_a_reused_refresh_token_ends_its_family(
    client: TestClient[Any], instance: SoftwareSigner, wallet: Wallet
) -> None:
    first = _signed_in(client, instance, wallet)
    successor = _refresh(wallet, instance, first["refresh_token"]).json()["refresh_token"]
    reused = _refresh(wallet, instance, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    ended = _refresh(wallet, instance, successor)
    assert ended.status_code == 400 and ended.json()["error"] == "invalid_grant"


def test_a_refresh_needs_the_wallets_dpop_key_and_attestation(
    client: TestClient[Any], instance: SoftwareSigner, wallet: Wallet
) -> None:
    first = _signed_in(client, instance, wallet)
    token = first["refresh_token"]
    thief = Wallet(client, dpop_key=ec.generate_private_key(ec.SECP256R1()))
    stolen = _refresh(thief, instance, token)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    bearer = _refresh(Wallet(client), instance, token)
    assert bearer.status_code == 400 and bearer.json()["error"] == "invalid_dpop_proof"
    unattested = _refresh(wallet, None, token)
    assert unattested.status_code == 401 and unattested.json()["error"] == "invalid_client"
    unknown = _refresh(wallet, instance, "not-a-refresh-token")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"
    # none of those spent it
    assert _refresh(wallet, instance, token).status_code == 200


def test_revoking_the_credential_or_by_the_wallet_ends_refreshing(
    client: TestClient[Any], instance: SoftwareSigner, wallet: Wallet
) -> None:
    first = _signed_in(client, instance, wallet)
    _credential_claims(wallet, first["access_token"])
    revoked = client.post(
        "/issuers/civil-registry/credentials/revoke",
        json={"subject_id": "demo-citizen", "reason": "the citizen asked at the desk"},
        headers={"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"},
    )
    assert revoked.status_code == 200, revoked.text
    after = _refresh(wallet, instance, first["refresh_token"])
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"

    second = _signed_in(client, instance, wallet)
    for token in (second["refresh_token"], "never-issued"):
        answer = client.post("/issuers/civil-registry/revoke", data={"token": token})
        assert answer.status_code == 200, answer.text
    ended = _refresh(wallet, instance, second["refresh_token"])
    assert ended.status_code == 400 and ended.json()["error"] == "invalid_grant"
    hint = client.post(
        "/issuers/civil-registry/revoke", data={"token": "x", "token_type_hint": "id_token"}
    )
    assert hint.status_code == 400 and hint.json()["error"] == "unsupported_token_type"


def test_a_citizen_no_longer_in_the_register_gets_no_refresh(
    client: TestClient[Any], instance: SoftwareSigner, wallet: Wallet
) -> None:
    first = _signed_in(client, instance, wallet)
    _change_register(client, "demo-citizen", None)
    gone = _refresh(wallet, instance, first["refresh_token"])
    assert gone.status_code == 400 and gone.json()["error"] == "invalid_grant"


def test_an_agency_may_give_no_refresh_tokens(
    client: TestClient[Any], instance: SoftwareSigner, wallet: Wallet
) -> None:
    metadata = client.get("/.well-known/oauth-authorization-server/issuers/civil-registry")
    assert "refresh_token" in metadata.json()["grant_types_supported"]
    assert metadata.json()["revocation_endpoint"] == f"{ISSUER}/revoke"
    context = client.app.state.issuers
    agency = dataclasses.replace(context.agency("civil-registry"), refresh_token_lifetime=0)
    client.app.state.issuers = dataclasses.replace(
        context, agencies={**context.agencies, "civil-registry": agency}
    )
    assert "refresh_token" not in _signed_in(client, instance, wallet)
    metadata = client.get("/.well-known/oauth-authorization-server/issuers/civil-registry")
    assert "refresh_token" not in metadata.json()["grant_types_supported"]


def test_twenty_racing_refreshes_give_one_successor(
    client: TestClient[Any], instance: SoftwareSigner, wallet: Wallet
) -> None:
    first = _signed_in(client, instance, wallet)
    context = client.app.state.issuers
    request = convert_message(
        {
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": CLIENT_ID,
        },
        TokenRequest,
    )

    async def race() -> list[object]:
        async def one() -> object:
            try:
                return await exchange_refresh_token(
                    context, "civil-registry", request, dpop_jkt=wallet.dpop_jkt
                )
            except InvalidGrant as refused:
                return refused

        return await asyncio.gather(*(one() for _ in range(20)))

    results = client.blocking_portal.call(race)
    assert len([r for r in results if not isinstance(r, InvalidGrant)]) == 1


def test_a_status_change_that_changed_nothing_shows_in_no_figure(
    client: TestClient[Any], instance: SoftwareSigner, wallet: Wallet
) -> None:
    """Revoking what is revoked already: the operator's act is in the trail (outcome
    ``unchanged``), but no agency row of the oversight figures is made of it."""
    first = _signed_in(client, instance, wallet)
    _credential_claims(wallet, first["access_token"])
    for _ in range(2):
        revoked = client.post(
            "/issuers/civil-registry/credentials/revoke",
            json={"subject_id": "demo-citizen", "reason": "the citizen asked at the desk"},
            headers={"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"},
        )
        assert revoked.status_code == 200, revoked.text
    assert revoked.json()["changed"] == []
    entries = [e for e in _audit(client) if e.action == "credential.revoked"]
    assert [e.outcome for e in entries] == ["ok", "unchanged"]
    assert entries[1].facts == '{"changed":0}'
    groups = [
        CountedGroup(e.actor_kind, e.actor, e.action, e.outcome, decode_facts(e.facts), 1)
        for e in entries
    ]
    agencies = tabulate(groups)[1]
    assert list(agencies) == [
        ("civil-registry", json.loads(entries[0].facts)["credential_configuration"])
    ]
