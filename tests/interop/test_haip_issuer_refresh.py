"""Our citizens' wallet renews its access token with the refresh token at the independent
HAIP issuer (``haip_issuer.mjs`` on ``@openid4vc/oauth2`` and ``@openid4vc/openid4vci``;
``test_haip_issuer`` shows the issuance itself), and keeps its one-time credentials fresh
with it:

- a credential the issuer deferred (OpenID4VCI 1.0 §8.3) is collected at its deferred
  credential endpoint (§9) after the access token expired meanwhile: the deferred request
  is refused ``invalid_token`` (RFC 6750 §3.1, with the ``DPoP`` challenge of RFC 9449
  §7.1), the wallet redeems the refresh token (RFC 6749 §6) with a fresh wallet
  attestation and a DPoP proof of the issuance's key (RFC 9449 §5), and asks again with
  the new token; with keys held by the service, and with every key on the phone (the
  phone signs the token renewal's proofs, then the deferred request's);
- a credential received with a refresh token is one-time (each copy shown once): the
  housekeeping's renewal (keys held by the service) and the phone's
  (``POST /wallet/credentials/{id}/renew``) get fresh batches from the issuer, twice in a
  row, each time with the refresh token the last renewal was handed (the issuer rotates
  them); a wallet that kept a refresh token already redeemed is refused ``invalid_grant``.

The issuer's record of each request (``/_test/seen``) shows what it checked: the refresh
token presented is the one it issued last for that grant, bound to the DPoP key and the
client of the issuance, the new access token bound to the same key, and the deferred
credentials bound to the keys of the proofs sent before.

Our own verifiers are registered for our agencies' credential types only, so the library
card cannot be presented to make a renewal due here; the housekeeping's renewal is run
directly (``renew_credential``) in a wallet running in this process.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from app import create_app
from app.settings import Settings
from core.jose.jwk import jwk_thumbprint
from core.sdjwt_vc.issuer_keys import X5cIssuerKeys
from core.sdjwt_vc.profile import VerifiedCredential, verify_sd_jwt_vc
from tests.conftest import migrated_database
from tests.interop.node_issuer import (
    BATCH_SIZE,
    CONFIGURATION_ID,
    IssuerPki,
    RunningIssuer,
    running_haip_issuer,
)
from tests.interop.test_haip_issuer import (
    CITIZEN,
    Deployment,
    _authorized_redirect,
    _browse,
    _check_stored,
    _events_since,
    _settled,
    _signed_rounds,
    _start,
    behaving,
    deployment,
)
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.support.server import free_port
from tests.wallet.phone import Phone
from wallet.domain import CounterpartyError
from wallet.services.context import WalletContext
from wallet.services.credential_records import open_record
from wallet.services.one_time_use import change_credential
from wallet.services.renew_credential import renew_credential, renew_due_credentials

__all__ = ["behaving", "deployment"]

#: The DPoP challenge of an expired access token (RFC 9449 §7.1), as the library writes it.
EXPIRED_CHALLENGE = 'DPoP error="invalid_token", error_description="the access token expired"'


@pytest.fixture
def deferring(behaving: RunningIssuer) -> RunningIssuer:
    """The issuer, deferring every credential until the test makes it ready."""
    behaving.set_mode("deferred")
    return behaving


def _verified_by(pki: IssuerPki, credential: str) -> VerifiedCredential:
    """Our SD-JWT VC verification, with the test's issuer root as the only anchor."""
    return asyncio.run(
        verify_sd_jwt_vc(
            credential, issuer_keys=X5cIssuerKeys([pki.root]), key_binding=None, issued=True
        )
    )


def _of(events: list[dict[str, Any]], endpoint: str) -> list[dict[str, Any]]:
    return [event for event in events if event["endpoint"] == endpoint]


def _check_refresh(
    refresh: dict[str, Any], *, before: dict[str, Any], dpop_jkt: str, provider: dict[str, Any]
) -> None:
    """A refresh token grant the issuer took: the refresh token ``before`` handed out,
    a DPoP proof of the key the grant is bound to (with the issuer's nonce), a fresh wallet
    attestation of our wallet provider for the same client; a new access token bound to
    that key, and a new refresh token."""
    assert refresh["grant_type"] == "refresh_token"
    assert refresh["refresh_token_presented"] == before["refresh_token_issued"]
    assert refresh["refresh_token_issued"] != refresh["refresh_token_presented"]
    assert refresh["dpop_nonce"]
    assert refresh["dpop_jkt"] == refresh["bound_dpop_jkt"] == refresh["token_cnf_jkt"] == dpop_jkt
    assert refresh["token_type"] == "DPoP"
    assert refresh["access_token_jti"] != before["access_token_jti"]
    attestation = refresh["attestation"]
    assert attestation["typ"] == "oauth-client-attestation+jwt"
    assert attestation["sub"] == attestation["iss"] == provider["wallet_provider"]
    assert attestation["cnf_jwk"] == before["attestation"]["cnf_jwk"]
    assert attestation["pop"]["aud"] == before["attestation"]["pop"]["aud"]


def _check_deferred(
    deployment: Deployment, phone: Phone, fetched: dict[str, Any], events: list[dict[str, Any]]
) -> dict[str, Any]:
    """What the issuer saw of a deferred issuance whose access token expired before the
    credentials were ready, and what the wallet stored. Returns the grant's events."""
    events = _settled(events)
    assert [event["endpoint"] for event in events] == [
        "par",
        "authorize",
        "token",
        "nonce",
        "credential",  # 202: deferred
        "deferred_credential",  # 202: still pending
        "deferred_credential",  # 401: the access token expired
        "token",  # the refresh token redeemed
        "deferred_credential",  # the credentials, with the new token
        "notification",
    ], events
    par, _, code, _, credential, pending, expired, refresh, collected, notification = events
    dpop_jkt = par["dpop_jkt"]
    assert code["grant_type"] == "authorization_code"
    assert code["dpop_jkt"] == code["token_cnf_jkt"] == dpop_jkt
    assert code["refresh_token_issued"]

    transaction_id = credential["transaction_id"]
    assert credential["token_jti"] == code["access_token_jti"]
    assert len(credential["proofs"]) == BATCH_SIZE
    assert pending["transaction_id"] == transaction_id and pending["pending"] is True
    assert pending["token_jti"] == code["access_token_jti"]

    # RFC 6750 §3.1 with RFC 9449 §7.1: 401 and the DPoP challenge naming invalid_token
    assert expired["refused"] == "invalid_token"
    assert expired["www_authenticate"].startswith(EXPIRED_CHALLENGE), expired

    _check_refresh(refresh, before=code, dpop_jkt=dpop_jkt, provider=deployment.provider)

    # the credentials, asked for with the new token, bound to the keys of the proofs
    assert collected["transaction_id"] == transaction_id and collected["pending"] is False
    assert collected["token_jti"] == refresh["access_token_jti"]
    assert collected["dpop_jkt"] == collected["token_cnf_jkt"] == dpop_jkt
    assert collected["holder_jkts"] == [proof["jkt"] for proof in credential["proofs"]]
    assert notification["notification_id"] == collected["notification_id"]
    assert notification["event"] == "credential_accepted"
    assert notification["token_jti"] == refresh["access_token_jti"]

    assert fetched["status"] == "received", fetched
    _check_stored(
        deployment,
        phone,
        fetched,
        {"proofs": credential["proofs"], "credentials": collected["credentials"]},
    )
    assert phone.get("/wallet/issuances").json() == {"issuances": []}
    return {"code": code, "refresh": refresh}


def test_a_deferred_credential_is_collected_with_a_renewed_access_token(
    deployment: Deployment, deferring: RunningIssuer
) -> None:
    phone = deployment.phone()
    before = len(deferring.seen())
    issuance_id, redirect = _authorized_redirect(deployment, phone, custody="server")
    answered = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
    assert answered.status_code == 200, f"{answered.text}\n{deferring.log()}"
    assert answered.json()["status"] == "pending", answered.json()
    [listed] = phone.get("/wallet/issuances").json()["issuances"]
    assert listed["issuance_id"] == issuance_id

    asked = phone.post(f"/wallet/issuances/{issuance_id}/fetch")
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "pending"  # not ready yet

    assert deferring.expire_tokens() >= 1
    assert len(deferring.ready()) == 1
    fetched = phone.post(f"/wallet/issuances/{issuance_id}/fetch")
    assert fetched.status_code == 200, f"{fetched.text}\n{deferring.log()}"
    _check_deferred(deployment, phone, fetched.json(), _events_since(deferring, before))


def test_a_deferred_credential_with_every_key_on_the_phone(
    deployment: Deployment, deferring: RunningIssuer
) -> None:
    """The phone signs the renewal's attestation PoP and DPoP proof, then the DPoP proof of
    the deferred request with the new token (``ath``), round by round."""
    phone = deployment.phone()
    before = len(deferring.seen())
    attestation, dpop = phone.new_holder_keys(2)
    keys = phone.new_holder_keys(BATCH_SIZE)
    started = _start(
        phone,
        deferring.issuer,
        custody="device",
        holder_keys=keys,
        instance_keys={"attestation": attestation, "dpop": dpop},
    )
    assert started.status_code == 201, started.text
    issuance_id = started.json()["offer_id"]
    pushed, _ = _signed_rounds(phone, issuance_id, started.json())
    redirect = _browse(deployment, pushed["authorization_url"])
    answered = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
    assert answered.status_code == 200, f"{answered.text}\n{deferring.log()}"
    applied, _ = _signed_rounds(phone, issuance_id, answered.json())
    assert applied["status"] == "pending", applied
    [listed] = phone.get("/wallet/issuances").json()["issuances"]
    assert listed["fetch_by_phone"] is True

    asked = phone.post(f"/wallet/issuances/{issuance_id}/fetch")
    assert asked.status_code == 200, asked.text
    still, rounds = _signed_rounds(phone, issuance_id, asked.json())
    # the deferred request's DPoP proof (and the notification's, for when it arrives)
    assert still["status"] == "pending" and [set(r) for r in rounds] == [{"dpop"}], rounds

    assert deferring.expire_tokens() >= 1
    assert len(deferring.ready()) == 1
    fetched = phone.post(f"/wallet/issuances/{issuance_id}/fetch")
    assert fetched.status_code == 200, f"{fetched.text}\n{deferring.log()}"
    received, rounds = _signed_rounds(phone, issuance_id, fetched.json())
    # the deferred request (its token refused), the renewal, the deferred request again;
    # the renewal is signed once more where the authorization server's nonce (RFC 9449
    # §8) went stale meanwhile; the resource server's (§9) is kept apart from it, so the
    # request after the renewal carries the right one at once
    assert rounds[0] == ["dpop", "dpop"], rounds
    renewal = [r for r in rounds[1:] if "client_attestation_pop" in r]
    assert 1 <= len(renewal) <= 2 and all(r == ["client_attestation_pop", "dpop"] for r in renewal)
    after = rounds[1 + len(renewal) :]
    assert after == [["dpop", "dpop"]], rounds

    events = _events_since(deferring, before)
    seen = _check_deferred(deployment, phone, received, events)
    assert seen["refresh"]["dpop_jkt"] == jwk_thumbprint(dpop)
    assert seen["refresh"]["attestation"]["cnf_jwk"] == attestation
    assert {proof["jkt"] for proof in _of(_settled(events), "credential")[0]["proofs"]} == {
        jwk_thumbprint(key) for key in keys
    }


def _one_time_on_the_phone(
    deployment: Deployment, issuer: RunningIssuer
) -> tuple[Phone, str, dict[str, Any], dict[str, Any]]:
    """A library card received with every key on the phone: the phone, the credential's
    id, the phone's DPoP key, and the issuer's record of the code's redemption."""
    phone = deployment.phone()
    before = len(issuer.seen())
    attestation, dpop = phone.new_holder_keys(2)
    started = _start(
        phone,
        issuer.issuer,
        custody="device",
        holder_keys=phone.new_holder_keys(BATCH_SIZE),
        instance_keys={"attestation": attestation, "dpop": dpop},
    )
    assert started.status_code == 201, started.text
    issuance_id = started.json()["offer_id"]
    pushed, _ = _signed_rounds(phone, issuance_id, started.json())
    redirect = _browse(deployment, pushed["authorization_url"])
    answered = phone.post("/wallet/issuances/authorized", {"redirect_url": redirect})
    assert answered.status_code == 200, f"{answered.text}\n{issuer.log()}"
    received, _ = _signed_rounds(phone, issuance_id, answered.json())
    assert received["status"] == "received", received
    [code] = [e for e in _events_since(issuer, before) if e.get("grant_type")]
    return phone, received["credentials"][0]["credential_id"], dpop, code


def _check_fresh_batch(
    provider: dict[str, Any],
    pki: IssuerPki,
    events: list[dict[str, Any]],
    *,
    before: dict[str, Any],
    dpop_jkt: str,
    holder_keys: list[dict[str, str]],
    custody: str,
) -> dict[str, Any]:
    """What the issuer saw of one renewal: the refresh token ``before`` handed out
    redeemed, a nonce, the credential request with the new access token and a key-attested
    proof of each fresh key, the wallet's acceptance. The new credentials verify here and
    are bound to the fresh keys. Returns the refresh grant."""
    events = _settled(events)
    assert [event["endpoint"] for event in events] == [
        "token",
        "nonce",
        "credential",
        "notification",
    ], events
    refresh, _, credential, notification = events
    _check_refresh(refresh, before=before, dpop_jkt=dpop_jkt, provider=provider)
    assert credential["token_jti"] == refresh["access_token_jti"]
    assert credential["dpop_jkt"] == credential["token_cnf_jkt"] == dpop_jkt
    levels = provider["key_attestation_levels"][custody]
    for proof in credential["proofs"]:
        assert proof["key_attestation"]["attested_jkts"] == [proof["jkt"]]
        assert proof["key_attestation"]["key_storage"] == levels.get("key_storage")
    bound = {
        jwk_thumbprint(_verified_by(pki, value).claims["cnf"]["jwk"])
        for value in credential["credentials"]
    }
    assert bound == {proof["jkt"] for proof in credential["proofs"]}
    if holder_keys:
        assert bound == {jwk_thumbprint(key) for key in holder_keys}
    assert notification["notification_id"] == credential["notification_id"]
    assert notification["event"] == "credential_accepted"
    assert notification["token_jti"] == refresh["access_token_jti"]
    return refresh


def test_the_phone_renews_a_one_time_credential_twice(
    deployment: Deployment, behaving: RunningIssuer
) -> None:
    """``POST /wallet/credentials/{id}/renew``: the phone signs the refresh grant's proofs,
    then the fresh keys' proofs; the second renewal redeems the refresh token the first
    was handed."""
    phone, credential_id, dpop, before = _one_time_on_the_phone(deployment, behaving)
    shown = phone.get(f"/wallet/credentials/{credential_id}").json()
    assert (shown["use_policy"], shown["renewed_by"]) == ("one_time", "phone")
    assert shown["instances"] == BATCH_SIZE

    for renewal in (1, 2):
        mark = len(behaving.seen())
        keys = phone.new_holder_keys(BATCH_SIZE)
        asked = phone.post(f"/wallet/credentials/{credential_id}/renew", {"holder_keys": keys})
        assert asked.status_code == 200, f"{asked.text}\n{behaving.log()}"
        renewed, rounds = _signed_rounds(phone, asked.json()["offer_id"], asked.json())
        assert renewed["status"] == "received", f"{renewed}\n{behaving.log()}"
        assert [r for r in rounds if "client_attestation_pop" in r], rounds
        assert next(r for r in rounds if "key_proof" in r).count("key_proof") == BATCH_SIZE
        [kept] = renewed["credentials"]
        assert kept["credential_id"] == credential_id
        # none shown yet: every copy stays, the fresh batch joins them
        assert kept["instances"] == BATCH_SIZE * (1 + renewal)
        before = _check_fresh_batch(
            deployment.provider,
            deployment.pki,
            _events_since(behaving, mark),
            before=before,
            dpop_jkt=jwk_thumbprint(dpop),
            holder_keys=keys,
            custody="device",
        )


@dataclass
class InProcess:
    """Our deployment in this process (its wallet's services at hand) and the issuer."""

    client: TestClient[Any]
    provider: dict[str, Any]
    pki: IssuerPki
    issuer: RunningIssuer

    @property
    def wallet(self) -> WalletContext:
        context: WalletContext = self.client.app.state.wallet
        return context


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    """The app behind a test client, its wallet trusting the test's issuer root and allowed
    to reach the issuer's loopback port, and the issuer there trusting the app's wallet
    provider."""
    var_dir = tmp_path_factory.mktemp("interop-haip-refresh")
    pki = IssuerPki.create()
    roots = var_dir / "interop-issuer-roots.pem"
    roots.write_bytes(pki.root_pem())
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    settings = Settings(
        var_dir=var_dir,
        database_url=migrated_database(f"sqlite+aiosqlite:///{var_dir / 'idwallet.db'}"),
        public_base_url=PUBLIC_BASE_URL,
        wallet_trust_anchors=(str(roots),),
        outbound_allow=(f"127.0.0.1:{port}",),
        wallet_issuers=(issuer,),
    )
    with TestClient(app=create_app(settings), base_url=PUBLIC_BASE_URL) as client:
        provider = client.get("/wallet/provider")
        assert provider.status_code == 200, provider.text
        with running_haip_issuer(
            port=port,
            signing=pki.signing_material(issuer),
            wallet_provider_cas=[provider.json()["certificate_authority"]],
            citizen=CITIZEN,
        ) as running:
            yield InProcess(client, provider.json(), pki, running)


async def _renewal_state(
    context: WalletContext, account_id: str, credential_id: str
) -> dict[str, Any] | None:
    """What the credential keeps for its next renewal (the refresh token among it)."""
    stored = await context.store.credentials.get(account_id, credential_id)
    assert stored is not None
    return open_record(await context.box(account_id), stored).renewal


async def _put_back(
    context: WalletContext, account_id: str, credential_id: str, renewal: dict[str, Any] | None
) -> None:
    box = await context.box(account_id)
    await change_credential(
        context, box, credential_id, lambda _, record: dataclasses.replace(record, renewal=renewal)
    )


def test_the_housekeeping_renews_a_one_time_credential_twice(in_process: InProcess) -> None:
    """Keys held by the service: ``renew_credential``, the housekeeping's renewal of a
    credential that is due, gets a fresh batch twice, each time with the refresh token the
    last one was handed. A wallet that kept a refresh token already redeemed (its state
    put back as it was before the first renewal) is refused ``invalid_grant``, with valid
    proofs, and the credential stays as it is."""
    client, issuer, context = in_process.client, in_process.issuer, in_process.wallet
    phone = Phone(client)
    phone.register()
    before = len(issuer.seen())
    started = phone.post(
        "/wallet/issuances",
        {
            "credential_issuer": issuer.issuer,
            "credential_configuration_id": CONFIGURATION_ID,
            "custody": "server",
        },
    )
    assert started.status_code == 201, started.text
    browser = httpx.get(started.json()["authorization_url"], follow_redirects=False, timeout=10)
    assert browser.status_code == 303, browser.text
    received = phone.post(
        "/wallet/issuances/authorized", {"redirect_url": browser.headers["location"]}
    )
    assert received.status_code == 200, f"{received.text}\n{issuer.log()}"
    credential_id = received.json()["credentials"][0]["credential_id"]
    shown = phone.get(f"/wallet/credentials/{credential_id}").json()
    assert (shown["use_policy"], shown["renewed_by"]) == ("one_time", "wallet_service")
    [code] = [e for e in _events_since(issuer, before) if e.get("grant_type")]
    account_id = str(phone.account_id)

    with client.portal() as portal:
        assert portal.call(renew_due_credentials, context) == 0  # none shown: not due
        first_state = portal.call(_renewal_state, context, account_id, credential_id)
        for renewal in (1, 2):
            mark = len(issuer.seen())
            renewed = portal.call(renew_credential, context, account_id, credential_id)
            assert renewed is True, issuer.log()
            code = _check_fresh_batch(
                in_process.provider,
                in_process.pki,
                _events_since(issuer, mark),
                before=code,
                dpop_jkt=code["dpop_jkt"],
                holder_keys=[],
                custody="server",
            )
            shown = phone.get(f"/wallet/credentials/{credential_id}").json()
            assert shown["instances"] == BATCH_SIZE * (1 + renewal)

        portal.call(_put_back, context, account_id, credential_id, first_state)
        mark = len(issuer.seen())
        with pytest.raises(CounterpartyError) as refused:
            portal.call(renew_credential, context, account_id, credential_id)
    assert refused.value.remote_error == "invalid_grant"
    reused = [e for e in _settled(_events_since(issuer, mark)) if e["endpoint"] == "token"]
    assert [(e.get("refused"), e.get("description")) for e in reused] == [
        ("invalid_grant", "the refresh token was used before")
    ]
    assert phone.get(f"/wallet/credentials/{credential_id}").json()["instances"] == 3 * BATCH_SIZE
