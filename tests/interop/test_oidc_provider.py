"""The OpenID Provider oracle (``tests.support.oidc_provider``) does what the tests of our
OpenID Connect client rely on: panva's certified provider publishes discovery and a JWKS,
runs the authorization code flow with PKCE (S256 only, required), logs test users in through
its form with their own ``acr``, authenticates clients by ``client_secret_basic``,
``client_secret_post`` and ``private_key_jwt``, rolls its keys over, and doctors its ID
tokens exactly as asked. The client side here is httpx and PyJWT, sharing no code with it."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.oidc_provider import (
    EIDAS_HIGH,
    EIDAS_LEVELS,
    EIDAS_LOW,
    MISBEHAVIOURS,
    PACKAGES,
    PROVIDER_DIR,
    LoginError,
    Misbehaviour,
    ProviderClient,
    ProviderConfig,
    ProviderUser,
    RunningProvider,
    log_in,
    running_oidc_provider,
)

REDIRECT_URI = "http://127.0.0.1:9/agency/callback"
SECRET = "agency-secret-of-thirty-two-bytes-at-least"
ASSERTION_KEY = ec.generate_private_key(ec.SECP256R1())
ASSERTION_KID = "agency-assertion-key"

HIGH = ProviderUser(
    sub="citizen-high",
    acr=EIDAS_HIGH,
    claims={"personal_number": "19800101-1234", "given_name": "Erika", "family_name": "Muster"},
)
LOW = ProviderUser(
    sub="citizen-low",
    acr=EIDAS_LOW,
    claims={"personal_number": "19900202-5678", "given_name": "Max", "family_name": "Muster"},
)


def _public_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    public: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {**public, "kid": kid, "alg": "ES256", "use": "sig"}


CLIENTS = {
    "basic": ProviderClient("agency-basic", (REDIRECT_URI,), client_secret=SECRET),
    "post": ProviderClient(
        "agency-post",
        (REDIRECT_URI,),
        client_secret=SECRET,
        token_endpoint_auth_method="client_secret_post",
    ),
    "rs256": ProviderClient(
        "agency-rs256", (REDIRECT_URI,), client_secret=SECRET, id_token_signed_response_alg="RS256"
    ),
    "jwt": ProviderClient(
        "agency-jwt",
        (REDIRECT_URI,),
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [_public_jwk(ASSERTION_KEY, ASSERTION_KID)]},
    ),
}


# One TLS context for every client: making one per client costs more than a login.
TLS = ssl.create_default_context()


@dataclass
class Oracle:
    provider: RunningProvider
    http: httpx.Client
    discovery: dict[str, Any]


@pytest.fixture(scope="module")
def provider() -> Iterator[RunningProvider]:
    config = ProviderConfig(clients=tuple(CLIENTS.values()), users=(HIGH, LOW))
    with running_oidc_provider(config) as running:
        yield running


@pytest.fixture(scope="module")
def op(provider: RunningProvider) -> Iterator[Oracle]:
    """The provider, its discovery document and a client for its back channel."""
    with httpx.Client(verify=TLS) as http:
        response = http.get(f"{provider.issuer}/.well-known/openid-configuration")
        response.raise_for_status()
        yield Oracle(provider, http, response.json())


def _browser() -> httpx.Client:
    """A browser of its own: no session at the provider yet."""
    return httpx.Client(verify=TLS)


@dataclass
class Authorization:
    url: str
    state: str
    nonce: str
    verifier: str


def _authorization(op: Oracle, client: ProviderClient, **extra: str) -> Authorization:
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid eid",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
        "acr_values": EIDAS_HIGH,
    }
    params.update(extra)
    params = {name: value for name, value in params.items() if value}
    url = f"{op.discovery['authorization_endpoint']}?{urlencode(params)}"
    return Authorization(url, state, nonce, verifier)


def _callback(redirect: str) -> dict[str, str]:
    parts = urlsplit(redirect)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT_URI
    return {name: values[0] for name, values in parse_qs(parts.query).items()}


def _token_request(op: Oracle, client: ProviderClient, code: str, verifier: str) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    headers: dict[str, str] = {}
    if client.token_endpoint_auth_method == "client_secret_basic":
        assert client.client_secret is not None
        # RFC 6749 §2.3.1: each form-urlencoded, then joined by a colon and base64-encoded.
        pair = f"{quote_plus(client.client_id)}:{quote_plus(client.client_secret)}"
        headers["Authorization"] = f"Basic {base64.b64encode(pair.encode()).decode()}"
    elif client.token_endpoint_auth_method == "client_secret_post":
        assert client.client_secret is not None
        form |= {"client_id": client.client_id, "client_secret": client.client_secret}
    else:
        form |= {
            "client_id": client.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": _client_assertion(client, op.discovery["issuer"], ASSERTION_KEY),
        }
    return op.http.post(op.discovery["token_endpoint"], data=form, headers=headers)


def _client_assertion(
    client: ProviderClient, audience: str, key: ec.EllipticCurvePrivateKey
) -> str:
    now = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": audience,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 60,
    }
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": ASSERTION_KID})


def _code_flow(
    op: Oracle, client: ProviderClient, login: str
) -> tuple[Authorization, dict[str, Any]]:
    """A whole login: the authorization request, the login form, the callback's checks
    and the token request; the authorization and the token response."""
    authorization = _authorization(op, client)
    with _browser() as browser:
        callback = _callback(log_in(browser, authorization.url, login))
    assert callback["state"] == authorization.state
    assert callback["iss"] == op.discovery["issuer"]
    response = _token_request(op, client, callback["code"], authorization.verifier)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return authorization, tokens


def _jwks(op: Oracle) -> dict[str, Any]:
    response = op.http.get(op.discovery["jwks_uri"])
    response.raise_for_status()
    jwks: dict[str, Any] = response.json()
    return jwks


def _verified(
    op: Oracle,
    client: ProviderClient,
    token: str,
    *,
    verify_exp: bool = True,
    verify_iss: bool = True,
    verify_aud: bool = True,
) -> dict[str, Any]:
    """The claims of ``token``, its signature checked against the provider's JWKS (by
    ``kid``) and its ``iss``, ``aud`` and ``exp`` checked unless turned off."""
    header = jwt.get_unverified_header(token)
    keys = jwt.PyJWKSet.from_dict(_jwks(op))
    key = next(key for key in keys.keys if key.key_id == header["kid"])
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=[client.id_token_signed_response_alg],
        audience=client.client_id,
        issuer=op.discovery["issuer"],
        options={
            "require": ["iss", "sub", "aud", "exp", "iat"],
            "verify_exp": verify_exp,
            "verify_iss": verify_iss,
            "verify_aud": verify_aud,
        },
    )
    return claims


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    header, payload, signature = token.split(".")

    def decoded(segment: str) -> bytes:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))

    return json.loads(decoded(header)), json.loads(decoded(payload)), decoded(signature)


def test_the_provider_runs_at_its_pinned_exact_version(op: Oracle) -> None:
    assert set(PACKAGES) == {"oidc-provider", "jose"}
    assert all(version[0].isdigit() for version in PACKAGES.values()), "exact versions only"
    installed = PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json"
    assert json.loads(installed.read_text(encoding="utf-8"))["version"] == PACKAGES["oidc-provider"]


def test_discovery_names_the_issuer_its_endpoints_s256_and_the_levels(op: Oracle) -> None:
    assert op.provider.issuer == f"http://127.0.0.1:{op.provider.port}"
    assert op.discovery["issuer"] == op.provider.issuer
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        assert op.discovery[endpoint].startswith(f"{op.provider.issuer}/")
    assert op.discovery["code_challenge_methods_supported"] == ["S256"]
    assert op.discovery["acr_values_supported"] == list(EIDAS_LEVELS)
    assert {"openid", "eid"} <= set(op.discovery["scopes_supported"])
    assert op.discovery["response_types_supported"] == ["code"]
    assert {"ES256", "RS256"} <= set(op.discovery["id_token_signing_alg_values_supported"])
    assert {"client_secret_basic", "client_secret_post", "private_key_jwt"} <= set(
        op.discovery["token_endpoint_auth_methods_supported"]
    )
    assert op.discovery["authorization_response_iss_parameter_supported"] is True
    assert op.http.get(f"{op.provider.issuer}/_test/health").status_code == 200


def test_code_flow_with_pkce_and_client_secret_basic_yields_a_verifiable_id_token(
    op: Oracle,
) -> None:
    client = CLIENTS["basic"]
    authorization, tokens = _code_flow(op, client, HIGH.sub)
    assert tokens["token_type"].lower() == "bearer"
    assert jwt.get_unverified_header(tokens["id_token"])["alg"] == "ES256"
    claims = _verified(op, client, tokens["id_token"])
    assert claims["sub"] == HIGH.sub
    assert claims["nonce"] == authorization.nonce
    assert claims["azp"] == client.client_id
    assert claims["acr"] == EIDAS_HIGH
    assert abs(claims["auth_time"] - time.time()) < 60
    assert {name: claims[name] for name in HIGH.claims} == dict(HIGH.claims)


def test_a_user_of_low_assurance_gets_low_whatever_the_client_asked_for(
    op: Oracle,
) -> None:
    client = CLIENTS["post"]
    _, tokens = _code_flow(op, client, LOW.claims["personal_number"])
    claims = _verified(op, client, tokens["id_token"])
    assert claims["sub"] == LOW.sub
    assert claims["acr"] == EIDAS_LOW


def test_an_rs256_client_gets_rs256_id_tokens(op: Oracle) -> None:
    client = CLIENTS["rs256"]
    _, tokens = _code_flow(op, client, HIGH.sub)
    assert jwt.get_unverified_header(tokens["id_token"])["alg"] == "RS256"
    assert _verified(op, client, tokens["id_token"])["acr"] == EIDAS_HIGH


def test_the_login_form_is_plain_html_and_refuses_an_unknown_login(
    op: Oracle,
) -> None:
    authorization = _authorization(op, CLIENTS["basic"])
    with _browser() as browser:
        page = browser.get(authorization.url, follow_redirects=True)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<label for="login">Personal number or user id</label>' in page.text
        assert f'action="{page.url.path}/login"' in page.text
        with pytest.raises(LoginError, match="No citizen"):
            log_in(browser, authorization.url, "nobody")


def test_the_provider_requires_pkce_with_s256(op: Oracle) -> None:
    client = CLIENTS["basic"]
    for extra in (
        {"code_challenge": "", "code_challenge_method": ""},
        {"code_challenge_method": "plain"},
    ):
        authorization = _authorization(op, client, **extra)
        with _browser() as browser:
            callback = _callback(log_in(browser, authorization.url, HIGH.sub))
        assert callback["error"] == "invalid_request", callback
        assert "code" not in callback

    authorization = _authorization(op, client)
    with _browser() as browser:
        callback = _callback(log_in(browser, authorization.url, HIGH.sub))
    refused = _token_request(op, client, callback["code"], secrets.token_urlsafe(32))
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


def _redeem_with_assertion(
    op: Oracle, client: ProviderClient, audience: str, key: ec.EllipticCurvePrivateKey
) -> tuple[Authorization, httpx.Response]:
    authorization = _authorization(op, client)
    with _browser() as browser:
        callback = _callback(log_in(browser, authorization.url, HIGH.sub))
    response = op.http.post(
        op.discovery["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": callback["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": authorization.verifier,
            "client_id": client.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": _client_assertion(client, audience, key),
        },
    )
    return authorization, response


@pytest.mark.parametrize("audience", ["issuer", "token_endpoint"])
def test_private_key_jwt_authenticates_with_the_registered_key_only(
    op: Oracle, audience: str
) -> None:
    """The assertion's audience may be the issuer or the token endpoint (RFC 7523 §3)."""
    client = CLIENTS["jwt"]
    authorization, response = _redeem_with_assertion(
        op, client, op.discovery[audience], ASSERTION_KEY
    )
    assert response.status_code == 200, response.text
    claims = _verified(op, client, response.json()["id_token"])
    assert claims["nonce"] == authorization.nonce

    stranger = ec.generate_private_key(ec.SECP256R1())
    _, refused = _redeem_with_assertion(op, client, op.discovery[audience], stranger)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


def test_rotate_keys_signs_with_a_new_kid_and_keeps_the_previous_key_published(op: Oracle) -> None:
    client = CLIENTS["basic"]
    _, before = _code_flow(op, client, HIGH.sub)
    old_kid = jwt.get_unverified_header(before["id_token"])["kid"]
    old_jwks = [key["kid"] for key in _jwks(op)["keys"]]

    op.provider.rotate_keys()
    _, after = _code_flow(op, client, HIGH.sub)
    new_kid = jwt.get_unverified_header(after["id_token"])["kid"]
    assert new_kid != old_kid
    kids = [key["kid"] for key in _jwks(op)["keys"]]
    assert kids.index(new_kid) < kids.index(old_kid)
    assert kids[-len(old_jwks) :] == old_jwks, "the previous keys stay published, after the new"
    assert _verified(op, client, after["id_token"])["sub"] == HIGH.sub
    assert _verified(op, client, before["id_token"])["sub"] == HIGH.sub

    op.provider.rotate_keys()
    kids = [key["kid"] for key in _jwks(op)["keys"]]
    assert new_kid in kids
    assert old_kid not in kids, "a key two rotations old is retired"


@pytest.fixture
def misbehaving(provider: RunningProvider) -> Iterator[RunningProvider]:
    yield provider
    provider.misbehave(None)


@pytest.mark.parametrize("mode", MISBEHAVIOURS)
def test_misbehave_doctors_the_id_token_in_exactly_one_way(
    misbehaving: RunningProvider, op: Oracle, mode: Misbehaviour
) -> None:
    client = CLIENTS["basic"]
    misbehaving.misbehave(mode)
    authorization, tokens = _code_flow(op, client, HIGH.sub)
    token = tokens["id_token"]
    header, payload, signature = _segments(token)
    published = {key["kid"] for key in _jwks(op)["keys"]}
    genuine = {
        "iss": op.discovery["issuer"],
        "aud": client.client_id,
        "azp": client.client_id,
        "nonce": authorization.nonce,
        "sub": HIGH.sub,
        "acr": EIDAS_HIGH,
    }
    doctored = {name: payload.get(name) for name in genuine if payload.get(name) != genuine[name]}
    now = time.time()

    if mode == "alg_none":
        assert header == {"alg": "none"}
        assert signature == b""
        assert doctored == {}
        return
    if mode == "unknown_kid":
        assert header["kid"] not in published
        assert doctored == {}
        return
    assert header["kid"] in published
    if mode == "bad_signature":
        with pytest.raises(jwt.InvalidSignatureError):
            _verified(op, client, token)
        assert doctored == {}
        return
    if mode == "expired":
        with pytest.raises(jwt.ExpiredSignatureError):
            _verified(op, client, token)
        claims = _verified(op, client, token, verify_exp=False)
        assert claims["exp"] < now - 60
        assert claims["iat"] < claims["exp"]
        assert doctored == {}
        return
    defect = {"wrong_iss": "iss", "wrong_aud": "aud", "wrong_nonce": "nonce"}[mode]
    claims = _verified(op, client, token, verify_iss=defect != "iss", verify_aud=defect != "aud")
    assert claims["exp"] > now
    assert set(doctored) == {defect}
    assert doctored[defect]


def test_misbehave_none_restores_the_genuine_id_token(
    misbehaving: RunningProvider, op: Oracle
) -> None:
    client = CLIENTS["basic"]
    misbehaving.misbehave("wrong_iss")
    misbehaving.misbehave(None)
    authorization, tokens = _code_flow(op, client, HIGH.sub)
    assert _verified(op, client, tokens["id_token"])["nonce"] == authorization.nonce
