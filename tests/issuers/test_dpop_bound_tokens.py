"""Access tokens bound to the wallet's DPoP key at every agency (RFC 9449; HAIP 1.0 §4),
over HTTP on SQLite and PostgreSQL: the token endpoint takes only proofs of this request
with the agency's nonce, and binds the token to the proof's key (``token_type: DPoP``);
the credential and notification endpoints take a bound token only with the ``DPoP`` scheme
and a proof of that key over this request and token. Each broken rule is answered with
the code RFC 9449 names (``invalid_dpop_proof``, ``use_dpop_nonce`` with a fresh
``DPoP-Nonce``, ``invalid_token`` with the challenge of the scheme used), never a 5xx,
and spends nothing: the code or token still works afterwards."""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient

from app import create_app
from app.settings import Settings
from core.dpop import access_token_hash
from core.jose.jwk import public_jwk
from core.keys.signer import SoftwareSigner
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
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.issuers.wallet import PRE_AUTHORIZED_GRANT, Wallet, proof, read_offer
from tests.support.dpop_proofs import make_proof, sign_with_alg
from tests.support.wallet_provider import new_instance

TOKEN = f"{ISSUER}/token"
CREDENTIAL = f"{ISSUER}/credential"
NOTIFICATION = f"{ISSUER}/notification"


def _app_settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, wallet_provider_anchors=(TRUSTED.root,), test_citizen="demo-citizen"
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(_app_settings(settings)), base_url=PUBLIC_BASE_URL) as client:
        yield client


@pytest.fixture
def instance() -> SoftwareSigner:
    return new_instance()


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _nonce(client: TestClient[Any]) -> str:
    answer = client.post("/issuers/civil-registry/nonce")
    nonce: str = answer.headers["dpop-nonce"]
    return nonce


def _code(client: TestClient[Any], instance: SoftwareSigner, **change: str) -> str:
    pushed = _par(client, _authenticated(instance), **change)
    assert pushed.status_code == 201, pushed.text
    code: str = _redirected(_authorize(client, pushed.json()["request_uri"]))["code"]
    return code


def _token_form(code: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "https://wallet.example.eu/cb",
        "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        "client_id": "https://wallet.example.eu",
    }


def _bound_token(
    client: TestClient[Any], instance: SoftwareSigner, key: ec.EllipticCurvePrivateKey
) -> str:
    answer = _token(client, _authenticated(instance), _code(client, instance), dpop_key=key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP" and answer.headers["dpop-nonce"]
    token: str = answer.json()["access_token"]
    return token


def _credential_body(client: TestClient[Any], holder: SoftwareSigner) -> dict[str, Any]:
    c_nonce = client.post("/issuers/civil-registry/nonce").json()["c_nonce"]
    return {
        "credential_configuration_id": "national_id",
        "proofs": {"jwt": [proof(holder, ISSUER, c_nonce)]},
    }


def _proof(key: ec.EllipticCurvePrivateKey, **change: Any) -> str:
    values: dict[str, Any] = {"htu": CREDENTIAL, "iat": time.time(), "jti": secrets.token_hex(8)}
    values.update(change)
    return make_proof(key, **values)


def test_the_code_needs_a_dpop_proof_carrying_the_agencys_nonce(
    client: TestClient[Any], instance: SoftwareSigner
) -> None:
    code = _code(client, instance)
    bare = _token(client, _authenticated(instance), code, dpop_key=None)
    assert bare.status_code == 400 and bare.json()["error"] == "invalid_dpop_proof"
    key = _new_key()
    no_nonce = client.post(
        "/issuers/civil-registry/token",
        data=_token_form(code),
        headers={**_authenticated(instance), "DPoP": _proof(key, htu=TOKEN)},
    )
    assert no_nonce.status_code == 400 and no_nonce.json()["error"] == "use_dpop_nonce"
    nonce = no_nonce.headers["dpop-nonce"]
    # the attestation's PoP was not spent by the refusal: the same one goes with the retry
    answer = client.post(
        "/issuers/civil-registry/token",
        data=_token_form(code),
        headers={
            **_authenticated(instance),
            "DPoP": _proof(key, htu=TOKEN, claims={"nonce": nonce}),
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "DPoP"
    assert answer.headers["cache-control"] == "no-store" and answer.headers["dpop-nonce"]


def _tampered(nonce: str) -> str:
    """The nonce with one character of its expiry changed (its MAC no longer matches)."""
    return nonce[:6] + ("B" if nonce[6] != "B" else "C") + nonce[7:]


def _broken_proofs(key: ec.EllipticCurvePrivateKey, nonce: str) -> dict[str, str]:
    now = time.time()
    good: dict[str, Any] = {"htu": TOKEN, "claims": {"nonce": nonce}}
    claims = {"jti": secrets.token_hex(8), "htm": "POST", "htu": TOKEN, "iat": now, "nonce": nonce}
    jwk = public_jwk(key)
    return {
        "wrong-htm": _proof(key, htm="GET", **good),
        "wrong-htu": _proof(key, htu=CREDENTIAL, claims={"nonce": nonce}),
        "stale-iat": _proof(key, iat=now - 3600, **good),
        "future-iat": _proof(key, iat=now + 600, **good),
        "wrong-typ": _proof(key, header={"typ": "JWT"}, **good),
        "no-jti": _proof(key, without=("jti",), **good),
        "private-jwk": _proof(key, header={"jwk": {**jwk, "d": "AAAA"}}, **good),
        "hs256": sign_with_alg(
            key, "ES256", {"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk}, claims
        ),
        "other-key-signed": sign_with_alg(
            _new_key(), "ES256", {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}, claims
        ),
        "stale-nonce": _proof(key, htu=TOKEN, claims={"nonce": _tampered(nonce)}),
    }


@pytest.mark.parametrize(
    "broken",
    [
        "wrong-htm",
        "wrong-htu",
        "stale-iat",
        "future-iat",
        "wrong-typ",
        "no-jti",
        "private-jwk",
        "hs256",
        "other-key-signed",
        "stale-nonce",
    ],
)
def test_a_broken_proof_at_the_token_endpoint_is_refused_and_spends_nothing(
    client: TestClient[Any], instance: SoftwareSigner, broken: str
) -> None:
    code = _code(client, instance)
    key = _new_key()
    value = _broken_proofs(key, _nonce(client))[broken]
    answer = client.post(
        "/issuers/civil-registry/token",
        data=_token_form(code),
        headers={**_authenticated(instance), "DPoP": value},
    )
    assert answer.status_code == 400, answer.text
    expected = "use_dpop_nonce" if broken == "stale-nonce" else "invalid_dpop_proof"
    assert answer.json()["error"] == expected
    assert _token(client, _authenticated(instance), code, dpop_key=key).status_code == 200


def test_a_replayed_proof_is_refused_by_every_worker(
    settings: Settings, instance: SoftwareSigner
) -> None:
    """Two application instances on one database, as two workers: a proof's ``jti`` is
    taken once by whichever of them sees it first (RFC 9449 §11.1)."""
    shared = _app_settings(settings)
    with (
        TestClient(app=create_app(shared), base_url=PUBLIC_BASE_URL) as first,
        TestClient(app=create_app(shared), base_url=PUBLIC_BASE_URL) as second,
    ):
        key = _new_key()
        value = _proof(key, htu=TOKEN, claims={"nonce": _nonce(first)})
        codes = [_code(first, instance), _code(first, instance)]
        used = first.post(
            "/issuers/civil-registry/token",
            data=_token_form(codes[0]),
            headers={**_authenticated(instance), "DPoP": value},
        )
        assert used.status_code == 200, used.text
        replayed = second.post(
            "/issuers/civil-registry/token",
            data=_token_form(codes[1]),
            headers={**_authenticated(instance), "DPoP": value},
        )
        assert replayed.status_code == 400
        assert replayed.json()["error"] == "invalid_dpop_proof"
        assert "used before" in replayed.json()["error_description"]


def test_a_bound_token_fetches_the_credential_only_with_a_proof_of_its_key(
    client: TestClient[Any], instance: SoftwareSigner
) -> None:
    key = _new_key()
    token = _bound_token(client, instance, key)
    holder = Wallet(client).new_holder()
    body = _credential_body(client, holder)
    nonce = _nonce(client)
    path = "/issuers/civil-registry/credential"

    as_bearer = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401 and as_bearer.json()["error"] == "invalid_token"
    assert as_bearer.headers["www-authenticate"].startswith("Bearer")

    def with_proof(value: str) -> Any:
        return client.post(
            path, json=body, headers={"Authorization": f"DPoP {token}", "DPoP": value}
        )

    ath = access_token_hash(token)
    other_key = with_proof(_proof(_new_key(), claims={"nonce": nonce, "ath": ath}))
    assert other_key.status_code == 401
    assert other_key.headers["www-authenticate"].startswith('DPoP error="invalid_token"')
    no_ath = with_proof(_proof(key, claims={"nonce": nonce}))
    assert no_ath.status_code == 401
    assert no_ath.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof"')
    wrong_ath = with_proof(_proof(key, claims={"nonce": nonce, "ath": access_token_hash("x")}))
    assert wrong_ath.status_code == 401 and wrong_ath.json()["error"] == "invalid_dpop_proof"
    wrong_htu = with_proof(_proof(key, htu=TOKEN, claims={"nonce": nonce, "ath": ath}))
    assert wrong_htu.status_code == 401 and wrong_htu.json()["error"] == "invalid_dpop_proof"
    no_nonce = with_proof(_proof(key, claims={"ath": ath}))
    assert no_nonce.status_code == 401
    assert no_nonce.headers["www-authenticate"].startswith('DPoP error="use_dpop_nonce"')
    assert no_nonce.headers["dpop-nonce"]
    no_proof = client.post(path, json=body, headers={"Authorization": f"DPoP {token}"})
    assert no_proof.status_code == 401 and no_proof.json()["error"] == "invalid_dpop_proof"

    fine = with_proof(_proof(key, claims={"nonce": no_nonce.headers["dpop-nonce"], "ath": ath}))
    assert fine.status_code == 200, fine.text
    assert fine.headers["dpop-nonce"]
    # the retry of a lost response is answered again, to the same key only
    again = with_proof(_proof(key, claims={"nonce": nonce, "ath": ath}))
    assert again.status_code == 200 and again.json() == fine.json()
    stolen = with_proof(_proof(_new_key(), claims={"nonce": nonce, "ath": ath}))
    assert stolen.status_code == 401 and stolen.json()["error"] == "invalid_token"

    notification = {
        "notification_id": fine.json()["notification_id"],
        "event": "credential_accepted",
    }
    bearer_note = client.post(
        "/issuers/civil-registry/notification",
        json=notification,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert bearer_note.status_code == 401
    note = client.post(
        "/issuers/civil-registry/notification",
        json=notification,
        headers={
            "Authorization": f"DPoP {token}",
            "DPoP": _proof(key, htu=NOTIFICATION, claims={"nonce": nonce, "ath": ath}),
        },
    )
    assert note.status_code == 204, note.text


def _pre_authorized_code(client: TestClient[Any]) -> str:
    made = create_offer(client, "civil-registry", "national_id", CITIZEN)
    offer = read_offer(client, made["offer_uri"])
    code: str = offer["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
    return code


def test_a_pre_authorized_exchange_with_dpop_yields_a_bound_token(
    client: TestClient[Any],
) -> None:
    key = _new_key()
    wallet = Wallet(client, dpop_key=key)
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": _pre_authorized_code(client)}
    answer = wallet.post_with_dpop(TOKEN, headers={}, data=form)
    assert answer.status_code == 200 and answer.json()["token_type"] == "DPoP"
    token = answer.json()["access_token"]
    body = _credential_body(client, wallet.new_holder())
    as_bearer = client.post(
        "/issuers/civil-registry/credential",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert as_bearer.status_code == 401
    assert wallet.credential({"credential_endpoint": CREDENTIAL}, token, body).status_code == 200


def test_a_pre_authorized_exchange_without_dpop_still_yields_a_bearer_token(
    client: TestClient[Any],
) -> None:
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": _pre_authorized_code(client)}
    answer = client.post("/issuers/civil-registry/token", data=form)
    assert answer.status_code == 200 and answer.json()["token_type"] == "Bearer"
    assert "dpop-nonce" not in answer.headers
    token = answer.json()["access_token"]
    body = _credential_body(client, Wallet(client).new_holder())
    key = _new_key()
    as_dpop = client.post(
        "/issuers/civil-registry/credential",
        json=body,
        headers={
            "Authorization": f"DPoP {token}",
            "DPoP": _proof(key, claims={"nonce": _nonce(client), "ath": access_token_hash(token)}),
        },
    )
    assert as_dpop.status_code == 401
    assert as_dpop.headers["www-authenticate"].startswith('DPoP error="invalid_token"')
    bearer = client.post(
        "/issuers/civil-registry/credential",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert bearer.status_code == 200, bearer.text


def test_the_pushed_request_binds_the_code_to_its_dpop_key(
    client: TestClient[Any], instance: SoftwareSigner
) -> None:
    """RFC 9449 §10: a proof at the pushed request (or ``dpop_jkt``) names the key the
    code may be exchanged with; the two must agree."""
    key = _new_key()
    wallet = Wallet(client, dpop_key=key)
    pushed = client.post(
        "/issuers/civil-registry/par",
        data={
            "response_type": "code",
            "client_id": "https://wallet.example.eu",
            "redirect_uri": "https://wallet.example.eu/cb",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
            "scope": "national_id",
        },
        headers={**_authenticated(instance), "DPoP": _proof(key, htu=f"{ISSUER}/par")},
    )
    assert pushed.status_code == 201, pushed.text
    code = _redirected(_authorize(client, pushed.json()["request_uri"]))["code"]
    other = _token(client, _authenticated(instance), code, dpop_key=_new_key())
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    assert _token(client, _authenticated(instance), code, dpop_key=key).status_code == 200
    disagreeing = _par(
        client,
        {**_authenticated(instance), "DPoP": _proof(key, htu=f"{ISSUER}/par")},
        dpop_jkt=Wallet(client, dpop_key=_new_key()).dpop_jkt,
    )
    assert disagreeing.status_code == 400
    assert disagreeing.json()["error"] == "invalid_dpop_proof"
    by_parameter = _code(client, instance, dpop_jkt=wallet.dpop_jkt)
    assert _token(client, _authenticated(instance), by_parameter, dpop_key=key).status_code == 200


def test_the_metadata_names_the_dpop_algorithms(client: TestClient[Any]) -> None:
    metadata = client.get("/.well-known/oauth-authorization-server/issuers/civil-registry").json()
    assert set(metadata["dpop_signing_alg_values_supported"]) >= {"ES256"}
    assert "none" not in metadata["dpop_signing_alg_values_supported"]


def test_a_request_without_a_token_is_offered_both_schemes_and_the_dpop_algorithms(
    client: TestClient[Any], instance: SoftwareSigner
) -> None:
    """RFC 6750 §3.1: no error code when no token came; RFC 9449 §7.1, §7.2: both schemes
    offered, the DPoP one with ``algs``."""
    answer = client.post("/issuers/civil-registry/credential", json={})
    assert answer.status_code == 401
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith("Bearer, DPoP algs=") and "ES256" in challenge
    assert "error=" not in challenge
    token = _bound_token(client, instance, _new_key())
    refused = client.post(
        "/issuers/civil-registry/credential",
        json=_credential_body(client, Wallet(client).new_holder()),
        headers={"Authorization": f"DPoP {token}"},
    )
    assert refused.headers["www-authenticate"].startswith('DPoP error="invalid_dpop_proof", algs=')
