"""Every rule of an agency's authorization code flow broken on its own, over HTTP, on
SQLite and PostgreSQL, each answered with the code its specification names and never a
5xx (RFC 9126, RFC 7636, RFC 6749 §4.1 and §5.2, OAuth attestation-based client
authentication, OpenID4VCI 1.0 §5, HAIP 1.0 §4). DPoP is in ``test_dpop_bound_tokens``,
key attestations in ``test_key_attestations``, encryption in
``test_credential_encryption``, races across workers in ``test_haip_across_workers``."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from litestar.testing import TestClient

from core.clock import Clock
from core.keys.signer import SoftwareSigner
from core.oauth import pkce_s256_challenge
from tests.issuers.test_authorization_endpoints import (
    DPOP_KEY,
    ISSUER,
    REDIRECT,
    TRUSTED,
    _authenticated,
    _authorize,
    _par,
    _redirected,
    _token,
    client,
    instance,
)
from tests.issuers.test_issuance import operator_key
from tests.issuers.wallet import Wallet
from tests.support.wallet_provider import (
    CLIENT_ATTESTATION_HEADER,
    CLIENT_ATTESTATION_POP_HEADER,
    WalletProvider,
    pop,
)

__all__ = ["client", "instance"]  # the fixtures, shared with the endpoint tests

CLIENT_ERRORS = {"invalid_client", "invalid_client_attestation"}


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"code_challenge": None}, 400, "invalid_request"),
        ({"code_challenge_method": "plain"}, 400, "invalid_request"),
        ({"code_challenge_method": None}, 400, "invalid_request"),
        ({"code_challenge": "short"}, 400, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, 400, "request_not_supported"),
        ({"request_uri": "urn:ietf:params:oauth:request_uri:x"}, 400, "invalid_request"),
        ({"response_type": "token"}, 400, "unsupported_response_type"),
        ({"scope": None}, 400, "invalid_request"),
        ({"redirect_uri": "http://wallet.example.eu/cb"}, 400, "invalid_request"),
        ({"authorization_details": "[{]"}, 400, "invalid_authorization_details"),
    ],
    ids=[
        "pkce-missing",
        "pkce-plain",
        "pkce-method-missing",
        "pkce-challenge-malformed",
        "request-object-by-value",
        "request-uri-pushed",
        "implicit-flow",
        "nothing-asked",
        "plain-http-redirect",
        "authorization-details-not-json",
    ],
)
def test_a_pushed_request_breaking_a_rule_is_refused(
    client: TestClient[Any],
    instance: SoftwareSigner,
    change: dict[str, str | None],
    status: int,
    error: str,
) -> None:
    form_change = {k: v for k, v in change.items() if v is not None}
    answer = _pushed_without(
        client, instance, [k for k, v in change.items() if v is None], form_change
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error


def _pushed_without(
    client: TestClient[Any], instance: SoftwareSigner, dropped: list[str], change: dict[str, str]
) -> Any:
    form = {
        "response_type": "code",
        "client_id": "https://wallet.example.eu",
        "redirect_uri": REDIRECT,
        "code_challenge": pkce_s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "code_challenge_method": "S256",
        "scope": "national_id",
        **change,
    }
    for name in dropped:
        form.pop(name, None)
    return client.post("/issuers/civil-registry/par", data=form, headers=_authenticated(instance))


def _attestation(instance: SoftwareSigner, **change: Any) -> dict[str, str]:
    provider = change.pop("provider", TRUSTED)
    attestation_claims = change.pop("attestation", {})
    pop_claims = {"audience": ISSUER, "issued_at": time.time(), **change}
    return {
        CLIENT_ATTESTATION_HEADER: provider.attest(instance, **attestation_claims),
        CLIENT_ATTESTATION_POP_HEADER: pop(instance, **pop_claims),
    }


@pytest.mark.parametrize(
    "headers",
    [
        lambda i: {},
        lambda i: _attestation(i, provider=WalletProvider("Stranger")),
        lambda i: _attestation(i, attestation={"exp": int(time.time()) - 60}),
        lambda i: _attestation(i, audience="https://other-issuer.example"),
        lambda i: _attestation(i, issued_at=time.time() - 3600),
        lambda i: _attestation(i, attestation={"cnf": None}),
        lambda i: {**_attestation(i), CLIENT_ATTESTATION_POP_HEADER: "not.a.jwt"},
        lambda i: {CLIENT_ATTESTATION_HEADER: _attestation(i)[CLIENT_ATTESTATION_HEADER]},
    ],
    ids=[
        "attestation-missing",
        "attestation-untrusted",
        "attestation-expired",
        "pop-wrong-audience",
        "pop-stale",
        "attestation-without-cnf",
        "pop-malformed",
        "pop-missing",
    ],
)
def test_a_wallet_attestation_breaking_a_rule_is_invalid_client(
    client: TestClient[Any], instance: SoftwareSigner, headers: Any
) -> None:
    """At the pushed request and at the token endpoint alike (HAIP 1.0 §4)."""
    refused = _par(client, headers(instance))
    assert refused.status_code == 401, refused.text
    # invalid_client, or the more specific code of the attestation draft -10 §6.3
    assert refused.json()["error"] in CLIENT_ERRORS
    pushed = _par(client, _authenticated(instance))
    code = _redirected(_authorize(client, pushed.json()["request_uri"]))["code"]
    at_token = _token(client, headers(instance), code)
    assert at_token.status_code == 401, at_token.text
    assert at_token.json()["error"] in CLIENT_ERRORS
    assert _token(client, _authenticated(instance), code).status_code == 200


def test_a_reused_attestation_pop_is_refused(
    client: TestClient[Any], instance: SoftwareSigner
) -> None:
    headers = _authenticated(instance)
    assert _par(client, headers).status_code == 201
    again = _par(client, headers)
    assert again.status_code == 401 and again.json()["error"] in CLIENT_ERRORS


@pytest.mark.parametrize(
    "change",
    [
        {"code_verifier": "x" * 43},
        {"code_verifier": "short"},
        {"redirect_uri": "https://wallet.example.eu/other"},
        {"client_id": "https://other-wallet.example"},
        {"code": "made-up-code"},
    ],
    ids=[
        "pkce-wrong-verifier",
        "pkce-malformed-verifier",
        "redirect-mismatch",
        "other-client",
        "unknown-code",
    ],
)
def test_a_code_exchange_breaking_a_rule_is_refused_and_spends_nothing(
    client: TestClient[Any], instance: SoftwareSigner, change: dict[str, str]
) -> None:
    pushed = _par(client, _authenticated(instance))
    code = _redirected(_authorize(client, pushed.json()["request_uri"]))["code"]
    if "code" in change:
        refused = _token(client, _authenticated(instance), change["code"])
    else:
        refused = _token(client, _authenticated(instance), code, **change)
    assert refused.status_code in (400, 401), refused.text
    expected = CLIENT_ERRORS if "client_id" in change else {"invalid_grant"}
    assert refused.json()["error"] in expected
    assert _token(client, _authenticated(instance), code).status_code == 200


def test_a_code_exchange_without_the_verifier_is_refused(
    client: TestClient[Any], instance: SoftwareSigner
) -> None:
    pushed = _par(client, _authenticated(instance))
    code = _redirected(_authorize(client, pushed.json()["request_uri"]))["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": "https://wallet.example.eu",
    }
    answer = Wallet(client, dpop_key=DPOP_KEY).post_with_dpop(
        f"{ISSUER}/token", headers=_authenticated(instance), data=form
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


class _Later:
    """The deployment's clock, ``offset`` seconds ahead."""

    def __init__(self, clock: Clock, offset: float) -> None:
        self._clock, self._offset = clock, offset

    def now(self) -> float:
        return self._clock.now() + self._offset


def _time_passes(client: TestClient[Any], seconds: float) -> None:
    context = client.app.state.issuers
    client.app.state.issuers = dataclasses.replace(context, clock=_Later(context.clock, seconds))


def test_an_expired_request_uri_or_code_is_refused(
    client: TestClient[Any], instance: SoftwareSigner
) -> None:
    late = _par(client, _authenticated(instance)).json()["request_uri"]
    pushed = _par(client, _authenticated(instance)).json()["request_uri"]
    code = _redirected(_authorize(client, pushed))["code"]
    _time_passes(client, 61)
    expired = _authorize(client, late)
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_request"
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        "client_id": "https://wallet.example.eu",
    }
    wallet = Wallet(client, dpop_key=DPOP_KEY, clock_offset=61)
    headers = _attestation(instance, issued_at=time.time() + 61)
    stale = wallet.post_with_dpop(f"{ISSUER}/token", headers=headers, data=form)
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "query",
    [
        {
            "client_id": "https://wallet.example.eu",
            "response_type": "code",
            "redirect_uri": REDIRECT,
        },
        {"request_uri": "urn:ietf:params:oauth:request_uri:x"},
        {"client_id": "https://wallet.example.eu", "request": "eyJhbGciOiJub25lIn0.e30."},
    ],
    ids=["parameters-by-value", "no-client-id", "request-object-by-value"],
)
def test_an_authorization_request_not_pushed_is_answered_here_not_redirected(
    client: TestClient[Any], query: dict[str, str]
) -> None:
    answer = client.get("/issuers/civil-registry/authorize", params=query, follow_redirects=False)
    assert answer.status_code == 400, answer.text
    assert "location" not in answer.headers


def test_an_issuer_state_of_another_agency_is_refused(
    client: TestClient[Any], instance: SoftwareSigner
) -> None:
    made = client.post(
        "/issuers/transport-agency/offers",
        json={
            "subject_id": "demo-citizen",
            "credential_configuration_id": next(
                iter(client.app.state.issuers.agency("transport-agency").configurations)
            ),
            "claims": _transport_claims(client),
            "grant": "authorization_code",
        },
        headers={"Authorization": f"Bearer {operator_key(client, 'transport-agency')}"},
    )
    assert made.status_code == 201, made.text
    state = made.json()["credential_offer"]["grants"]["authorization_code"]["issuer_state"]
    refused = _par(client, _authenticated(instance), issuer_state=state)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"


def _transport_claims(client: TestClient[Any]) -> dict[str, Any]:
    agency = client.app.state.issuers.agency("transport-agency")
    configuration = next(iter(agency.configurations))
    claims: dict[str, Any] = agency.register["demo-citizen"][configuration]
    return claims
