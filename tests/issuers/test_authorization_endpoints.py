"""The authorization code flow over HTTP, as a HAIP wallet drives it (OpenID4VCI 1.0 §5,
§6; RFC 9126; RFC 7636; RFC 9207; HAIP 1.0 §4): the pushed request authenticated by a
wallet attestation, the citizen's browser at the authorization endpoint redirected back
with code, state and iss, the code exchanged with the attestation and the PKCE verifier,
and the credential fetched with the token. Each refusal with the code the specifications
name, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient

from app import create_app
from app.settings import Settings
from core.keys.signer import SoftwareSigner
from core.oauth import PRE_AUTHORIZED_GRANT, pkce_s256_challenge
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer, operator_key
from tests.issuers.wallet import Wallet, proof, read_offer
from tests.support.wallet_provider import (
    CLIENT_ID,
    WalletProvider,
    attestation_headers,
    new_instance,
)

ISSUER = f"{PUBLIC_BASE_URL}/issuers/civil-registry"
REDIRECT = "https://wallet.example.eu/cb"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
TRUSTED = WalletProvider()
DPOP_KEY = ec.generate_private_key(ec.SECP256R1())


def _client(settings: Settings, **change: Any) -> Iterator[TestClient[Any]]:
    wanted: dict[str, Any] = {
        "wallet_provider_anchors": (TRUSTED.root,),
        "test_citizen": "demo-citizen",
        **change,
    }
    changed = dataclasses.replace(settings, **wanted)
    with TestClient(app=create_app(changed), base_url=PUBLIC_BASE_URL) as client:
        yield client


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    yield from _client(settings)


@pytest.fixture
def instance() -> SoftwareSigner:
    return new_instance()


def _authenticated(instance: SoftwareSigner, provider: WalletProvider = TRUSTED) -> dict[str, str]:
    return attestation_headers(provider, instance, audience=ISSUER, issued_at=time.time())


def _par(client: TestClient[Any], headers: dict[str, str], **change: str) -> Any:
    form = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "code_challenge": pkce_s256_challenge(VERIFIER),
        "code_challenge_method": "S256",
        "scope": "national_id",
        "state": "af0ifjsldkj",
        **change,
    }
    return client.post("/issuers/civil-registry/par", data=form, headers=headers)


def _authorize(client: TestClient[Any], request_uri: str, client_id: str = CLIENT_ID) -> Any:
    return client.get(
        "/issuers/civil-registry/authorize",
        params={"client_id": client_id, "request_uri": request_uri},
        follow_redirects=False,
    )


def _redirected(answer: Any) -> dict[str, str]:
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def _token(
    client: TestClient[Any],
    headers: dict[str, str],
    code: str,
    *,
    dpop_key: ec.EllipticCurvePrivateKey | None = DPOP_KEY,
    **change: str,
) -> Any:
    """The code exchanged as a HAIP wallet does: with a DPoP proof of ``dpop_key`` (and
    the agency's nonce, fetched by a first try), none when it is None."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
        "client_id": CLIENT_ID,
        **change,
    }
    wallet = Wallet(client, dpop_key=dpop_key)
    return wallet.post_with_dpop(f"{ISSUER}/token", headers=headers, data=form)


def test_a_haip_wallet_gets_a_credential_through_the_authorization_code_flow(
    client: TestClient[Any], instance: SoftwareSigner
) -> None:
    pushed = _par(client, _authenticated(instance))
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["cache-control"] == "no-store"
    assert 0 < pushed.json()["expires_in"] <= 60
    answer = _redirected(_authorize(client, pushed.json()["request_uri"]))
    assert answer["state"] == "af0ifjsldkj" and answer["iss"] == ISSUER
    token = _token(client, _authenticated(instance), answer["code"])
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "DPoP"
    wallet = Wallet(client, dpop_key=DPOP_KEY)
    metadata = wallet.metadata(ISSUER)
    holder = wallet.new_holder()
    credential = wallet.credential(
        metadata,
        token.json()["access_token"],
        {
            "credential_configuration_id": "national_id",
            "proofs": {"jwt": [proof(holder, ISSUER, wallet.nonce(metadata))]},
        },
    )
    assert credential.status_code == 200, credential.text
    reused = _token(client, _authenticated(instance), answer["code"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_a_pushed_request_needs_a_wallet_attestation_of_a_trusted_provider(
    client: TestClient[Any], instance: SoftwareSigner
) -> None:
    bare = _par(client, {})
    assert bare.status_code == 401 and bare.json()["error"] == "invalid_client"
    assert bare.headers["www-authenticate"].startswith("Bearer")
    stranger = _par(client, _authenticated(instance, WalletProvider("Stranger")))
    assert stranger.status_code == 401, stranger.text
    replayed = _authenticated(instance)
    assert _par(client, replayed).status_code == 201
    again = _par(client, replayed)
    assert again.status_code == 401, again.text  # the PoP's jti was used
    other_client = _par(client, _authenticated(instance), client_id="https://other.example")
    assert other_client.status_code == 401, other_client.text


def test_the_token_endpoint_needs_the_attestation_and_the_pkce_verifier(
    client: TestClient[Any], instance: SoftwareSigner
) -> None:
    pushed = _par(client, _authenticated(instance)).json()
    code = _redirected(_authorize(client, pushed["request_uri"]))["code"]
    assert _token(client, {}, code).status_code == 401
    wrong = _token(client, _authenticated(instance), code, code_verifier="x" * 43)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert _token(client, _authenticated(instance), code).status_code == 200


def test_a_request_uri_not_tied_to_a_pushed_request_is_answered_here_not_redirected(
    client: TestClient[Any], instance: SoftwareSigner
) -> None:
    unknown = _authorize(client, "urn:ietf:params:oauth:request_uri:made-up")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_request"
    pushed = _par(client, _authenticated(instance)).json()
    other = _authorize(client, pushed["request_uri"], client_id="https://other.example")
    assert other.status_code == 400 and "location" not in other.headers
    assert _authorize(client, pushed["request_uri"]).status_code == 303
    used = _authorize(client, pushed["request_uri"])
    assert used.status_code == 400


def test_a_citizen_the_agency_cannot_authenticate_is_sent_back_with_access_denied(
    settings: Settings, instance: SoftwareSigner
) -> None:
    for client in _client(settings, test_citizen=None):
        pushed = _par(client, _authenticated(instance)).json()
        answer = _redirected(_authorize(client, pushed["request_uri"]))
        assert answer["error"] == "access_denied"
        assert answer["iss"] == ISSUER and answer["state"] == "af0ifjsldkj"
        assert "code" not in answer


def test_a_clerks_online_offer_is_authorized_for_its_citizen_and_redeemed_once(
    client: TestClient[Any], instance: SoftwareSigner
) -> None:
    """The desk offers by online sign-in: the offer carries issuer_state (OpenID4VCI 1.0
    §4.1.1), the wallet pushes it (§5.1.3), and the credential is the clerk's."""
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
    grants = made.json()["credential_offer"]["grants"]
    assert list(grants) == ["authorization_code"] and made.json()["tx_code"] is None
    state = grants["authorization_code"]["issuer_state"]
    pushed = _par(client, _authenticated(instance), issuer_state=state)
    assert pushed.status_code == 201, pushed.text
    code = _redirected(_authorize(client, pushed.json()["request_uri"]))["code"]
    token = _token(client, _authenticated(instance), code)
    assert token.status_code == 200, token.text
    again = _par(client, _authenticated(instance), issuer_state=state)
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"


def test_an_online_offer_takes_no_transaction_code(client: TestClient[Any]) -> None:
    key = operator_key(client, "civil-registry")
    refused = client.post(
        "/issuers/civil-registry/offers",
        json={
            "subject_id": "demo-citizen",
            "credential_configuration_id": "national_id",
            "claims": CITIZEN,
            "grant": "authorization_code",
            "tx_code": True,
        },
        headers={"Authorization": f"Bearer {key}"},
    )
    assert refused.status_code == 400
    assert "pre-authorized" in refused.json()["detail"]


def _agency_asks(client: TestClient[Any], **asks: bool) -> None:
    """The running agency's catalog entry, changed as a deployment would configure it."""
    context = client.app.state.issuers
    agency = dataclasses.replace(context.agency("civil-registry"), **asks)
    client.app.state.issuers = dataclasses.replace(
        context, agencies={**context.agencies, "civil-registry": agency}
    )


def test_an_agency_may_ask_for_wallet_attestations_in_the_pre_authorized_flow(
    client: TestClient[Any], instance: SoftwareSigner
) -> None:
    _agency_asks(client, attestation_for_pre_authorized_code=True)
    made = create_offer(client, "civil-registry", "national_id", CITIZEN)
    offer = read_offer(client, made["offer_uri"])
    code = offer["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": code}
    bare = client.post("/issuers/civil-registry/token", data=form)
    assert bare.status_code == 401 and bare.json()["error"] == "invalid_client"
    attested = client.post(
        "/issuers/civil-registry/token", data=form, headers=_authenticated(instance)
    )
    assert attested.status_code == 200, attested.text


def test_an_agency_may_take_unattested_wallets_in_the_authorization_code_flow(
    client: TestClient[Any],
) -> None:
    _agency_asks(client, attestation_for_authorization_code=False)
    pushed = _par(client, {})
    assert pushed.status_code == 201, pushed.text
    code = _redirected(_authorize(client, pushed.json()["request_uri"]))["code"]
    assert _token(client, {}, code).status_code == 200
