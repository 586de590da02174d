"""Citizens log in at the national eID provider during online issuance (OpenID Connect
Core 1.0 §3.1, PKCE, ``state``, ``nonce``), against a real, certified OpenID Provider the
suite starts (``tests.support.oidc_provider``): the civil registry sends the browser
there from its authorization endpoint, takes it back at its callback, verifies the ID
token and issues what its register holds for the personal number the provider vouched
for. Every way a login can go wrong ends the authorization at the wallet with
``access_denied``, an audit entry, and nothing issued: too low a level of assurance, a
citizen the register does not know, each doctored ID token (wrong ``iss``, ``aud`` or
``nonce``, expired, ``alg: none``, unknown key, broken signature), a callback from another
browser or one answered already, the citizen cancelling; the provider's key rollover is
followed. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from litestar.testing import TestClient

from app import create_app
from app.settings import Settings
from core.encoding import b64url_decode
from core.jose.jwk import jwk_thumbprint, public_jwk
from core.keys.signer import SoftwareSigner
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_authorization_endpoints import (
    DPOP_KEY,
    ISSUER,
    TRUSTED,
    _authenticated,
    _par,
    _redirected,
    _token,
)
from tests.issuers.test_browser_problem_pages import BROWSER, problem_page_shown
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import operator_key
from tests.issuers.wallet import Wallet, proof
from tests.support.oidc_provider import (
    EIDAS_HIGH,
    EIDAS_LOW,
    EIDAS_SUBSTANTIAL,
    MISBEHAVIOURS,
    Misbehaviour,
    ProviderClient,
    ProviderConfig,
    ProviderUser,
    RunningProvider,
    log_in,
    running_oidc_provider,
)
from tests.support.wallet_provider import CLIENT_ID, new_instance

CALLBACK = f"{ISSUER}/eid/callback"
SECRET = "eid-client-secret-for-tests"
CLIENT_KEY = ec.generate_private_key(ec.SECP256R1())
CITIZEN_LOGIN = "demo-citizen"


@pytest.fixture(scope="module")
def provider() -> Iterator[RunningProvider]:
    config = ProviderConfig(
        clients=(
            ProviderClient("idwallet", (CALLBACK,), client_secret=SECRET),
            ProviderClient(
                "idwallet-key",
                (CALLBACK,),
                token_endpoint_auth_method="private_key_jwt",
                # the kid our client assertions carry: the key's thumbprint (RFC 7638)
                jwks={
                    "keys": [
                        public_jwk(CLIENT_KEY) | {"kid": jwk_thumbprint(public_jwk(CLIENT_KEY))}
                    ]
                },
            ),
        ),
        users=(
            # the register's subject ids are personal numbers
            ProviderUser("u-erika", EIDAS_SUBSTANTIAL, {"personal_number": CITIZEN_LOGIN}),
            ProviderUser("u-erika-low", EIDAS_LOW, {"personal_number": "demo-citizen-low"}),
            ProviderUser("u-stranger", EIDAS_HIGH, {"personal_number": "not-in-the-register"}),
        ),
    )
    with running_oidc_provider(config) as running:
        yield running


def _settings(settings: Settings, provider: RunningProvider, **change: Any) -> Settings:
    return dataclasses.replace(
        settings,
        wallet_provider_anchors=(TRUSTED.root,),
        eid_oidc_issuer=provider.issuer,
        eid_oidc_client_id="idwallet",
        eid_oidc_client_secret=SECRET,
        eid_oidc_scope="openid eid",
        outbound_allow=(f"127.0.0.1:{provider.port}",),
        **change,
    )


@pytest.fixture
def client(settings: Settings, provider: RunningProvider) -> Iterator[TestClient[Any]]:
    provider.misbehave(None)
    with TestClient(
        app=create_app(_settings(settings, provider)), base_url=PUBLIC_BASE_URL
    ) as client:
        yield client


def _to_provider(
    client: TestClient[Any], provider: RunningProvider, instance: SoftwareSigner | None = None
) -> str:
    """A HAIP wallet's pushed request, and the citizen's browser at the authorization
    endpoint, sent on to the provider's login."""
    pushed = _par(client, _authenticated(instance or new_instance()))
    assert pushed.status_code == 201, pushed.text
    sent = client.get(
        "/issuers/civil-registry/authorize",
        params={"client_id": CLIENT_ID, "request_uri": pushed.json()["request_uri"]},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    location: str = sent.headers["location"]
    assert location.startswith(f"{provider.issuer}/auth?")
    asked = parse_qs(urlsplit(location).query)
    assert asked["code_challenge_method"] == ["S256"] and asked["nonce"] and asked["state"]
    assert asked["acr_values"] == [f"{EIDAS_SUBSTANTIAL} {EIDAS_HIGH}"]
    assert asked["redirect_uri"] == [CALLBACK]
    cookie = sent.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    return location


def _back_at_the_agency(client: TestClient[Any], callback_url: str) -> Any:
    parts = urlsplit(callback_url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK, callback_url
    return client.get(f"{parts.path}?{parts.query}", follow_redirects=False)


def _logged_in(client: TestClient[Any], provider: RunningProvider, login: str) -> Any:
    """The whole browser journey: to the provider, logged in as ``login``, back at the
    agency; the agency's answer (a redirect to the wallet)."""
    location = _to_provider(client, provider)
    with httpx.Client() as browser:
        callback = log_in(browser, location, login)
    return _back_at_the_agency(client, callback)


def _refusals(client: TestClient[Any]) -> list[dict[str, Any]]:
    key = operator_key(client, "civil-registry")
    events = client.get(
        "/issuers/civil-registry/audit", headers={"Authorization": f"Bearer {key}"}
    ).json()["events"]
    return [e for e in events if e["action"] == "authorization.refuse"]


def _denied(answer: Any, description: str) -> None:
    redirected = _redirected(answer)
    assert redirected["error"] == "access_denied", redirected
    assert description in redirected["error_description"], redirected
    assert redirected["iss"] == ISSUER and redirected["state"] == "af0ifjsldkj"
    assert "code" not in redirected


def test_a_citizen_logged_in_at_the_eid_gets_what_the_register_holds(
    client: TestClient[Any], provider: RunningProvider
) -> None:
    instance = new_instance()
    location = _to_provider(client, provider, instance)
    with httpx.Client() as browser:
        callback = log_in(browser, location, CITIZEN_LOGIN)
    answer = _redirected(_back_at_the_agency(client, callback))
    assert answer["iss"] == ISSUER and answer["state"] == "af0ifjsldkj"
    token = _token(client, _authenticated(instance), answer["code"])
    assert token.status_code == 200, token.text
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
    disclosed = _disclosed(credential.json()["credentials"][0]["credential"])
    assert disclosed["given_name"] == CITIZEN["given_name"]  # from the register
    assert _refusals(client) == []


def _disclosed(sd_jwt: str) -> dict[str, Any]:
    """The object properties an SD-JWT discloses, by name."""
    values = {}
    for disclosure in sd_jwt.split("~")[1:]:
        if disclosure:
            decoded = json.loads(b64url_decode(disclosure))
            if len(decoded) == 3:
                values[decoded[1]] = decoded[2]
    return values


def test_a_login_below_the_credentials_level_of_assurance_is_refused(
    client: TestClient[Any], provider: RunningProvider
) -> None:
    _denied(_logged_in(client, provider, "u-erika-low"), "stronger eID login")
    [refusal] = _refusals(client)
    assert refusal["outcome"] == "insufficient_acr"


def test_a_citizen_the_register_does_not_know_is_refused(
    client: TestClient[Any], provider: RunningProvider
) -> None:
    _denied(_logged_in(client, provider, "u-stranger"), "no such credential")
    [refusal] = _refusals(client)
    assert refusal["outcome"] == "not_in_register"
    assert "not-in-the-register" not in str(refusal)  # no personal data in the trail


@pytest.mark.parametrize("mode", MISBEHAVIOURS)
def test_a_doctored_id_token_is_refused(
    client: TestClient[Any], provider: RunningProvider, mode: Misbehaviour
) -> None:
    provider.misbehave(mode)
    try:
        answer = _logged_in(client, provider, CITIZEN_LOGIN)
    finally:
        provider.misbehave(None)
    _denied(answer, "could not be verified")
    [refusal] = _refusals(client)
    assert refusal["outcome"] == "invalid_id_token", refusal


def test_the_providers_key_rollover_is_followed(
    client: TestClient[Any], provider: RunningProvider
) -> None:
    _redirected(_logged_in(client, provider, CITIZEN_LOGIN))  # the keys are now known
    provider.rotate_keys()
    answer = _redirected(_logged_in(client, provider, CITIZEN_LOGIN))
    assert "code" in answer, answer


def test_a_callback_in_another_browser_is_refused(
    client: TestClient[Any], provider: RunningProvider
) -> None:
    """Login CSRF: a callback that did not start in this browser carries no binding."""
    location = _to_provider(client, provider)
    with httpx.Client() as browser:
        callback = log_in(browser, location, CITIZEN_LOGIN)
    client.cookies.clear()  # the victim's browser, which never went to the provider
    _denied(_back_at_the_agency(client, callback), "another browser")
    [refusal] = _refusals(client)
    assert refusal["outcome"] == "session_mismatch"


def test_a_callback_answered_already_gets_nothing_more(
    client: TestClient[Any], provider: RunningProvider
) -> None:
    location = _to_provider(client, provider)
    with httpx.Client() as browser:
        callback = log_in(browser, location, CITIZEN_LOGIN)
    cookies = dict(client.cookies)
    first = _redirected(_back_at_the_agency(client, callback))
    assert "code" in first
    client.cookies.update(cookies)
    _denied(_back_at_the_agency(client, callback), "ended already")
    assert [r["outcome"] for r in _refusals(client)] == ["login_ended"]


def test_a_cancelled_login_and_a_foreign_iss_are_refused(
    client: TestClient[Any], provider: RunningProvider
) -> None:
    location = _to_provider(client, provider)
    state = parse_qs(urlsplit(location).query)["state"][0]
    cancelled = client.get(
        f"/issuers/civil-registry/eid/callback?{urlencode({'state': state, 'error': 'access_denied', 'iss': provider.issuer})}",
        follow_redirects=False,
    )
    _denied(cancelled, "cancelled or refused")
    location = _to_provider(client, provider)
    with httpx.Client() as browser:
        callback = log_in(browser, location, CITIZEN_LOGIN)
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"iss": "https://mix-up.example"}
    _denied(
        client.get(f"{parts.path}?{urlencode(query)}", follow_redirects=False),
        "did not come from the eID service",
    )
    assert [r["outcome"] for r in _refusals(client)] == ["provider_mismatch", "provider_refused"]


def test_a_forged_state_is_answered_here_not_redirected(client: TestClient[Any]) -> None:
    for state in ("not-a-login", "0b5e0a2c-2f37-4a43-9d4b-5b8c7f0e1d2a.forged-mac"):
        answer = client.get(
            f"/issuers/civil-registry/eid/callback?{urlencode({'state': state, 'code': 'x'})}",
            follow_redirects=False,
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "invalid_request"
        # a browser, which has no wallet to go back to, is told in plain words
        shown = client.get(
            f"/issuers/civil-registry/eid/callback?{urlencode({'state': state, 'code': 'x'})}",
            headers=BROWSER,
        )
        problem_page_shown(shown, "eid-login")


def test_a_private_key_jwt_client_logs_citizens_in_too(
    settings: Settings, provider: RunningProvider, tmp_path: Path
) -> None:
    key_file = tmp_path / "eid-client.pem"
    key_file.write_bytes(
        CLIENT_KEY.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    changed = _settings(settings, provider)
    changed = dataclasses.replace(
        changed,
        eid_oidc_client_id="idwallet-key",
        eid_oidc_client_secret=None,
        eid_oidc_client_key=key_file,
    )
    with TestClient(app=create_app(changed), base_url=PUBLIC_BASE_URL) as client:
        answer = _redirected(_logged_in(client, provider, CITIZEN_LOGIN))
    assert "code" in answer, answer
