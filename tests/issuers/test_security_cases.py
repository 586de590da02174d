"""SECURITY-CASES I01–I07, I10–I18, I20 and I22 against the issuer over HTTP, on SQLite
and PostgreSQL; I02 and I07 with real concurrency."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient
from sqlalchemy import text

from app import create_app
from app.settings import Settings
from core.encoding import b64url_decode, b64url_encode
from core.keys.signer import SoftwareSigner
from issuers.services.context import IssuancePolicy
from tests.issuers.concurrent_client import concurrent_client, national_id_offer
from tests.issuers.conftest import PUBLIC_BASE_URL, without_rate_limits
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.issuers.wallet import PRE_AUTHORIZED_GRANT, Wallet, proof, read_offer
from tests.support.invariants import count_rows

ISSUER = f"{PUBLIC_BASE_URL}/issuers/civil-registry"
TOKEN = "/issuers/civil-registry/token"
CREDENTIAL = "/issuers/civil-registry/credential"


def _offer(client: TestClient[Any], *, tx_code: bool = False) -> tuple[dict[str, Any], str | None]:
    created = create_offer(client, "civil-registry", "national_id", CITIZEN, tx_code=tx_code)
    return read_offer(client, created["offer_uri"]), created["tx_code"]


def _code(offer: dict[str, Any]) -> str:
    code: str = offer["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
    return code


def _token_form(code: str, tx_code: str | None = None) -> dict[str, str]:
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": code}
    if tx_code is not None:
        form["tx_code"] = tx_code
    return form


def _error(response: Any, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error, response.text
    assert response.headers["cache-control"] == "no-store"


def test_I01_code_redeemed_twice(client: TestClient[Any]) -> None:
    offer, _ = _offer(client)
    assert client.post(TOKEN, data=_token_form(_code(offer))).status_code == 200
    _error(client.post(TOKEN, data=_token_form(_code(offer))), 400, "invalid_grant")


def test_I03_expired_code(client: TestClient[Any]) -> None:
    offer, _ = _offer(client)
    context = client.app.state.issuers
    real_now = context.clock.now

    class Later:
        def now(self) -> float:
            return real_now() + context.policy.offer_lifetime + 1

    object.__setattr__(context, "clock", Later())
    try:
        _error(client.post(TOKEN, data=_token_form(_code(offer))), 400, "invalid_grant")
    finally:
        object.__setattr__(context, "clock", type(context).__dataclass_fields__["clock"].default)


def test_I04_missing_tx_code_keeps_the_code_usable(client: TestClient[Any]) -> None:
    offer, tx_code = _offer(client, tx_code=True)
    _error(client.post(TOKEN, data=_token_form(_code(offer))), 400, "invalid_request")
    assert client.post(TOKEN, data=_token_form(_code(offer), tx_code)).status_code == 200


def test_I05_tx_code_where_none_was_offered(client: TestClient[Any]) -> None:
    offer, _ = _offer(client)
    _error(client.post(TOKEN, data=_token_form(_code(offer), "123456")), 400, "invalid_request")


def test_I06_wrong_tx_code_then_the_right_one(client: TestClient[Any]) -> None:
    offer, tx_code = _offer(client, tx_code=True)
    assert tx_code is not None
    wrong = "000000" if tx_code != "000000" else "111111"
    _error(client.post(TOKEN, data=_token_form(_code(offer), wrong)), 400, "invalid_grant")
    assert client.post(TOKEN, data=_token_form(_code(offer), tx_code)).status_code == 200


def test_I07_attempt_limit_sequential_and_across_a_restart(
    settings: Settings, client: TestClient[Any]
) -> None:
    offer, tx_code = _offer(client, tx_code=True)
    assert tx_code is not None
    wrong = "000000" if tx_code != "000000" else "111111"
    for _ in range(3):
        _error(client.post(TOKEN, data=_token_form(_code(offer), wrong)), 400, "invalid_grant")
    with TestClient(
        app=create_app(settings), base_url=PUBLIC_BASE_URL
    ) as restarted:  # a new process
        for _ in range(2):
            _error(
                restarted.post(TOKEN, data=_token_form(_code(offer), wrong)), 400, "invalid_grant"
            )
        _error(restarted.post(TOKEN, data=_token_form(_code(offer), tx_code)), 400, "invalid_grant")


@pytest.fixture
async def async_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with concurrent_client(create_app(without_rate_limits(settings))) as client:
        yield client


async def test_I02_fifty_parallel_redemptions_one_winner(
    async_client: httpx.AsyncClient, settings: Settings
) -> None:
    """On SQLite and PostgreSQL; SECURITY-CASES F03 in full is test_code_redemption_races."""
    for _ in range(3):
        code, _ = await national_id_offer(async_client, settings, subject_id="s", tx_code=False)
        responses = await asyncio.gather(
            *(async_client.post(TOKEN, data=_token_form(code)) for _ in range(50))
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(200) == 1, statuses
        assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code != 200)


async def test_I07_twenty_parallel_wrong_codes_never_exceed_the_limit_across_a_restart(
    settings: Settings,
) -> None:
    """Also SECURITY-CASES F04: twenty wrong codes in parallel against a limit of five, the
    app restarted after the first three. The right code after the fifth wrong one is refused,
    which a counter kept in process memory (reset by the restart) would have let through."""

    async def wrong_codes(client: httpx.AsyncClient, code: str, wrong: str, count: int) -> None:
        responses = await asyncio.gather(
            *(client.post(TOKEN, data=_token_form(code, wrong)) for _ in range(count))
        )
        assert all(r.status_code == 400 for r in responses), [r.text for r in responses]
        assert all(r.json()["error"] == "invalid_grant" for r in responses)

    async with concurrent_client(create_app(settings)) as first:
        code, tx_code = await national_id_offer(first, settings, subject_id="s", tx_code=True)
        assert tx_code is not None
        wrong = "000000" if tx_code != "000000" else "111111"
        await wrong_codes(first, code, wrong, 3)
    async with concurrent_client(create_app(settings)) as restarted:
        await wrong_codes(restarted, code, wrong, 2)
        late = await restarted.post(TOKEN, data=_token_form(code, tx_code))
        assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
        await wrong_codes(restarted, code, wrong, 15)
    attempts = count_rows(
        settings.database_url,
        "SELECT max(tx_code_attempts) FROM issuer_offers WHERE tx_code_hash IS NOT NULL",
    )
    assert attempts == IssuancePolicy().tx_code_max_attempts


class _Session:
    """An access token, a c_nonce and a holder key, ready for credential requests."""

    def __init__(self, client: TestClient[Any]) -> None:
        self.client = client
        offer, _ = _offer(client)
        self.token = client.post(TOKEN, data=_token_form(_code(offer))).json()["access_token"]
        self.nonce = client.post("/issuers/civil-registry/nonce").json()["c_nonce"]
        self.holder = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))

    def request(self, proofs: list[str] | None = None, **body: Any) -> Any:
        payload: dict[str, Any] = {"credential_configuration_id": "national_id", **body}
        if proofs is not None:
            payload["proofs"] = {"jwt": proofs}
        return self.client.post(
            CREDENTIAL, json=payload, headers={"Authorization": f"Bearer {self.token}"}
        )

    def proof(self, **overrides: Any) -> str:
        return proof(self.holder, ISSUER, self.nonce, **overrides)


def test_I10_missing_proofs(client: TestClient[Any]) -> None:
    _error(_Session(client).request(), 400, "invalid_proof")


@pytest.mark.parametrize("kind", ["random", "other_issuer_session", "expired", "reused"])
def test_I11_invalid_nonce(client: TestClient[Any], kind: str) -> None:
    session = _Session(client)
    if kind == "random":
        nonce = b64url_encode(b"\x01" * 32)
    elif kind == "other_issuer_session":
        nonce = client.post("/issuers/transport-agency/nonce").json()["c_nonce"]
    elif kind == "expired":
        context = client.app.state.issuers
        policy = context.policy
        object.__setattr__(context, "policy", dataclasses.replace(policy, nonce_lifetime=-1.0))
        try:
            nonce = client.post("/issuers/civil-registry/nonce").json()["c_nonce"]  # born expired
        finally:
            object.__setattr__(context, "policy", policy)
    else:
        nonce = session.nonce
        other = _Session(client)
        assert other.request([proof(other.holder, ISSUER, nonce)]).status_code == 200
    _error(session.request([proof(session.holder, ISSUER, nonce)]), 400, "invalid_nonce")


def test_I12_proof_without_nonce(client: TestClient[Any]) -> None:
    session = _Session(client)
    _error(session.request([proof(session.holder, ISSUER, None)]), 400, "invalid_proof")


def test_I13_flipped_signature_byte(client: TestClient[Any]) -> None:
    session = _Session(client)
    head, body, signature = session.proof().split(".")
    raw = bytearray(b64url_decode(signature))
    raw[7] ^= 0x01
    _error(session.request([f"{head}.{body}.{b64url_encode(bytes(raw))}"]), 400, "invalid_proof")


@pytest.mark.parametrize("typ", [None, "JWT", "kb+jwt"])
def test_I14_wrong_proof_typ(client: TestClient[Any], typ: str | None) -> None:
    session = _Session(client)
    _error(session.request([session.proof(typ=typ)]), 400, "invalid_proof")


def _unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return f"{b64url_encode(json.dumps(header).encode())}.{b64url_encode(json.dumps(payload).encode())}.{b64url_encode(signature)}"


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "ES512"])
def test_I15_proof_algorithms(client: TestClient[Any], alg: str) -> None:
    import hashlib
    import hmac

    session = _Session(client)
    header = {"alg": alg, "typ": "openid4vci-proof+jwt", "jwk": session.holder.public_jwk()}
    payload = {"aud": ISSUER, "iat": int(time.time()), "nonce": session.nonce}
    token = _unsigned(header, payload)
    if alg == "HS256":
        secret = json.dumps(session.holder.public_jwk()).encode()
        signing_input = token.rsplit(".", 1)[0]
        token = f"{signing_input}.{b64url_encode(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"
    elif alg == "ES512":
        p521 = SoftwareSigner(ec.generate_private_key(ec.SECP521R1()))
        token = proof(p521, ISSUER, session.nonce)
    _error(session.request([token]), 400, "invalid_proof")


@pytest.mark.parametrize(
    "audience",
    [
        ISSUER + "/",
        ISSUER.replace("https://", "http://"),
        "https://id.example.gov.evil/issuers/civil-registry",
        [ISSUER],
        None,
    ],
)
def test_I16_proof_audience_must_match_exactly(client: TestClient[Any], audience: Any) -> None:
    session = _Session(client)
    _error(session.request([session.proof(payload={"aud": audience})]), 400, "invalid_proof")


def test_I17_proof_key_headers(client: TestClient[Any]) -> None:
    session = _Session(client)
    jwk = session.holder.public_jwk()
    cases = [
        {"header": {"kid": "key-1"}},  # both jwk and kid
        {"header": {"jwk": {**jwk, "d": b64url_encode(b"\x01" * 32)}}},
        {
            "header": {
                "jwk": {
                    **jwk,
                    "y": b64url_encode(
                        (int.from_bytes(b64url_decode(jwk["y"]), "big") ^ 1).to_bytes(32, "big")
                    ),
                }
            }
        },
    ]
    for case in cases:
        _error(session.request([session.proof(**case)]), 400, "invalid_proof")
    p384 = SoftwareSigner(ec.generate_private_key(ec.SECP384R1()))
    mismatched = proof(session.holder, ISSUER, session.nonce, header={"jwk": p384.public_jwk()})
    _error(session.request([mismatched]), 400, "invalid_proof")


@pytest.mark.parametrize(
    "iat", [86400, -86400, "1700000000", True, "Infinity", 1e300, None, "5000-digit integer"]
)
def test_I18_proof_iat(client: TestClient[Any], iat: Any) -> None:
    session = _Session(client)
    if isinstance(iat, int) and not isinstance(iat, bool) and abs(iat) <= 86400:
        iat = int(time.time()) + iat
    payload: dict[str, Any] = {"aud": ISSUER, "nonce": session.nonce}
    if iat is not None and iat != "5000-digit integer":
        payload["iat"] = iat
    if iat in ("5000-digit integer", None):
        body = json.dumps(payload)
        if iat is not None:
            body = json.dumps({**payload, "iat": 0}).replace('"iat": 0', '"iat": ' + "9" * 5000)
        header = {"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": session.holder.public_jwk()}
        signing_input = (
            f"{b64url_encode(json.dumps(header).encode())}.{b64url_encode(body.encode())}"
        )
        token = f"{signing_input}.{b64url_encode(session.holder.sign(signing_input.encode()))}"
    else:
        token = proof(session.holder, ISSUER, None, payload=payload)
    _error(session.request([token]), 400, "invalid_proof")


def test_I20_unknown_configuration_and_identifier(client: TestClient[Any]) -> None:
    session = _Session(client)
    _error(
        session.request([session.proof()], credential_configuration_id="passport"),
        400,
        "unknown_credential_configuration",
    )
    response = client.post(
        CREDENTIAL,
        json={"credential_identifier": "abc", "proofs": {"jwt": [session.proof()]}},
        headers={"Authorization": f"Bearer {session.token}"},
    )
    _error(response, 400, "unknown_credential_identifier")


def test_I22_access_token_handling(client: TestClient[Any]) -> None:
    session = _Session(client)
    body = {"credential_configuration_id": "national_id", "proofs": {"jwt": [session.proof()]}}
    in_query = client.post(f"{CREDENTIAL}?access_token={session.token}", json=body)
    _error(in_query, 401, "invalid_token")
    assert "Bearer" in in_query.headers["www-authenticate"]
    _error(
        client.post(CREDENTIAL, json=body, headers={"Authorization": "Bearer forged-token"}),
        401,
        "invalid_token",
    )
    _error(client.post(CREDENTIAL, json=body), 401, "invalid_token")
    other_issuer = client.post(
        "/issuers/transport-agency/credential",
        json=body,
        headers={"Authorization": f"Bearer {session.token}"},
    )
    _error(other_issuer, 401, "invalid_token")
    first = session.request([session.proof()])
    assert first.status_code == 200
    # Used up: the same request is answered again with the same credentials (a lost
    # response's retry); any other request is invalid_token.
    assert session.request([session.proof()]).json() == first.json()
    another_key = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
    _error(session.request([proof(another_key, ISSUER, session.nonce)]), 401, "invalid_token")


def test_batch_rules(client: TestClient[Any]) -> None:
    session = _Session(client)
    _error(
        session.request([session.proof(), session.proof()]), 400, "invalid_proof"
    )  # same key twice
    many = [
        proof(SoftwareSigner(ec.generate_private_key(ec.SECP256R1())), ISSUER, session.nonce)
        for _ in range(11)
    ]
    _error(session.request(many), 400, "invalid_credential_request")


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        '{"credential_configuration_id": "national_id", "credential_configuration_id": "x"}',
        "[1, 2]",
        '{"proof": {"proof_type": "jwt", "jwt": "x"}, "credential_configuration_id": "national_id"}',
    ],
)
def test_malformed_credential_requests(client: TestClient[Any], body: str) -> None:
    session = _Session(client)
    response = client.post(
        CREDENTIAL,
        content=body,
        headers={"Authorization": f"Bearer {session.token}", "Content-Type": "application/json"},
    )
    _error(response, 400, "invalid_credential_request")


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"grant_type": PRE_AUTHORIZED_GRANT},
        {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": "x" * 300},
    ],
)
def test_malformed_token_requests(client: TestClient[Any], form: dict[str, str]) -> None:
    response = client.post(TOKEN, data=form)
    assert response.status_code == 400
    assert response.json()["error"] in {
        "invalid_request",
        "unsupported_grant_type",
        "invalid_grant",
    }


def test_an_authorization_code_without_client_authentication_is_invalid_client(
    client: TestClient[Any],
) -> None:
    """RFC 6749 §5.2: the client did not authenticate (HAIP 1.0 §4: a wallet attestation)."""
    response = client.post(TOKEN, data={"grant_type": "authorization_code", "code": "x"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_token_request_must_be_a_form(client: TestClient[Any]) -> None:
    offer, _ = _offer(client)
    _error(client.post(TOKEN, json=_token_form(_code(offer))), 400, "invalid_request")


def test_photographed_qr_is_useless_after_the_citizen_redeemed_it(client: TestClient[Any]) -> None:
    created = create_offer(client, "civil-registry", "national_id", CITIZEN, tx_code=True)
    Wallet(client).receive(created["offer_uri"], tx_code=created["tx_code"])
    offer_path = created["credential_offer_uri"].removeprefix(PUBLIC_BASE_URL)
    assert client.get(offer_path).status_code == 404
    code = _code(created["credential_offer"])
    _error(client.post(TOKEN, data=_token_form(code, created["tx_code"])), 400, "invalid_grant")


def test_operator_api_is_per_agency(client: TestClient[Any]) -> None:
    settings = client.app.state.deployment.settings
    keys = json.loads((settings.var_dir / "operator-keys.json").read_text())
    body = {"subject_id": "s", "credential_configuration_id": "national_id", "claims": CITIZEN}
    wrong_agency = client.post(
        "/issuers/civil-registry/offers",
        json=body,
        headers={"Authorization": f"Bearer {keys['transport-agency']}"},
    )
    assert wrong_agency.status_code == 401
    assert wrong_agency.headers["content-type"].startswith("application/problem+json")
    assert wrong_agency.json() == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "an operator key of this agency is required",
    }
    assert client.post("/issuers/civil-registry/offers", json=body).status_code == 401
    bad_claims = client.post(
        "/issuers/civil-registry/offers",
        json={**body, "claims": {**CITIZEN, "birthdate": "yesterday"}},
        headers={"Authorization": f"Bearer {keys['civil-registry']}"},
    )
    assert bad_claims.status_code == 422
    assert "birthdate must be a date (YYYY-MM-DD)" in bad_claims.json()["errors"]


@pytest.mark.parametrize(
    ("change", "described"),
    [
        ({"tx_code": "yes"}, "$.tx_code: expected true or false"),
        ({"claims": ["a"]}, "$.claims: expected an object"),
        ({"subject": "s"}, "holds the unknown member subject"),
        ({"subject_id": ""}, "$.subject_id"),
    ],
)
def test_offer_bodies_are_refused_as_problem_details_by_member(
    client: TestClient[Any], change: dict[str, Any], described: str
) -> None:
    settings = client.app.state.deployment.settings
    keys = json.loads((settings.var_dir / "operator-keys.json").read_text())
    body = {"subject_id": "s", "credential_configuration_id": "national_id", "claims": CITIZEN}
    response = client.post(
        "/issuers/civil-registry/offers",
        json={**body, **change},
        headers={"Authorization": f"Bearer {keys['civil-registry']}"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert described in response.json()["detail"]
    # without the key, the key is what is wrong, whatever the body
    assert client.post("/issuers/civil-registry/offers", content=b"{nope").status_code == 401


@pytest.mark.parametrize("with_tx_code", [False, True])
def test_a_code_sent_to_another_agency_does_not_burn_the_offer(
    client: TestClient[Any], with_tx_code: bool
) -> None:
    offer, tx_code = _offer(client, tx_code=with_tx_code)
    for _ in range(6):  # more than the attempt limit
        _error(
            client.post("/issuers/transport-agency/token", data=_token_form(_code(offer), tx_code)),
            400,
            "invalid_grant",
        )
    assert client.post(TOKEN, data=_token_form(_code(offer), tx_code)).status_code == 200


def test_a_used_offer_is_invalid_grant_whatever_the_tx_code(client: TestClient[Any]) -> None:
    offer, tx_code = _offer(client, tx_code=True)
    assert client.post(TOKEN, data=_token_form(_code(offer), tx_code)).status_code == 200
    # No longer "needs its tx_code" nor "has none": the code is simply spent.
    _error(client.post(TOKEN, data=_token_form(_code(offer))), 400, "invalid_grant")
    _error(client.post(TOKEN, data=_token_form(_code(offer), tx_code)), 400, "invalid_grant")


def test_offer_qr_urls_are_built_from_the_public_base_url_not_the_host_header(
    client: TestClient[Any],
) -> None:
    """A forged ``Host`` must not put an attacker's origin into the URLs a desk prints."""
    settings = client.app.state.deployment.settings
    keys = json.loads((settings.var_dir / "operator-keys.json").read_text())
    created = client.post(
        "/issuers/civil-registry/offers",
        json={"subject_id": "s", "credential_configuration_id": "national_id", "claims": CITIZEN},
        headers={"Authorization": f"Bearer {keys['civil-registry']}", "Host": "evil.example"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    urls = [body["qr"]["svg_url"], body["qr"]["png_url"], body["credential_offer_uri"]]
    assert all(url.startswith(f"{PUBLIC_BASE_URL}/issuers/civil-registry/") for url in urls)
    assert "evil.example" not in created.text


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\u202e", "\ud800"])
def test_identifiers_with_control_characters_are_refused_with_400(
    client: TestClient[Any], character: str
) -> None:
    """A NUL in a subject id was a 500 on PostgreSQL whose log line carried the citizen's
    name and document number; now every identifier a clerk types is checked first."""
    settings = client.app.state.deployment.settings
    keys = json.loads((settings.var_dir / "operator-keys.json").read_text())
    headers = {"Authorization": f"Bearer {keys['civil-registry']}"}
    subject = f"citizen{character}42"
    offered = client.post(
        "/issuers/civil-registry/offers",
        content=json.dumps(
            {
                "subject_id": subject,
                "credential_configuration_id": "national_id",
                "claims": {**CITIZEN, "given_name": "Zzcanary"},
            }
        ),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert offered.status_code == 400, offered.text
    assert "subject_id must not contain control or invisible characters" in offered.text
    revoked = client.post(
        "/issuers/civil-registry/credentials/revoke",
        content=json.dumps({"subject_id": subject}),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert revoked.status_code == 400, revoked.text
    if character != "\ud800":  # a lone surrogate cannot be sent in a URL at all
        looked_up = client.get(
            f"/issuers/civil-registry/subjects/citizen{quote(character)}", headers=headers
        )
        assert looked_up.status_code == 400, looked_up.text


@pytest.mark.parametrize(
    "path",
    [
        "/issuers/civil-registry/credential-offers/aaaaaaaaaaaaaaaaaaaa%00aaaaaaaaaaaa",
        "/issuers/civil-registry/status-lists/civil-registry-0001%00",
        "/verifiers/bar-age-check/requests/aaaaaaaaaaaaaaaa%00",
    ],
)
def test_a_nul_anywhere_in_a_path_is_a_client_error_not_a_500(
    client: TestClient[Any], path: str
) -> None:
    """Whatever endpoint a NUL reaches the database through, the answer names the
    request as the problem (PostgreSQL cannot store it; SQLite just finds nothing)."""
    response = client.get(path)
    assert 400 <= response.status_code < 500, response.text


def test_a_repeated_credential_request_gets_the_same_credentials_and_nothing_else(
    client: TestClient[Any],
) -> None:
    """A wallet whose response was lost repeats the request: the same access token and the
    same proofs get the same credentials, nothing is issued twice; anything else about the
    used token is invalid_token. The kept response is unreadable without the token."""
    offer, _ = _offer(client)
    wallet = Wallet(client)
    metadata = wallet.metadata(offer["credential_issuer"])
    access_token = wallet.token(offer).json()["access_token"]
    holder = wallet.new_holder()
    nonce = wallet.nonce(metadata)
    body = {
        "credential_configuration_id": "national_id",
        "proofs": {"jwt": [proof(holder, ISSUER, nonce)]},
    }
    first = wallet.credential(metadata, access_token, body)
    assert first.status_code == 200, first.text
    repeated = wallet.credential(metadata, access_token, body)
    assert repeated.status_code == 200 and repeated.json() == first.json()
    url = client.app.state.deployment.settings.database_url
    assert count_rows(url, "SELECT count(*) FROM issuer_credentials") == 1

    another_key = {
        "credential_configuration_id": "national_id",
        "proofs": {"jwt": [proof(wallet.new_holder(), ISSUER, nonce)]},
    }
    _error(wallet.credential(metadata, access_token, another_key), 401, "invalid_token")
    elsewhere = client.post(
        "/issuers/transport-agency/credential",
        json={**body, "credential_configuration_id": "driving_licence"},
        headers={"Authorization": f"Bearer {access_token}"},
    )
    _error(elsewhere, 401, "invalid_token")
    _error(wallet.credential(metadata, access_token + "x", body), 401, "invalid_token")

    async def kept() -> bytes:
        async with client.app.state.deployment.engine.connect() as connection:
            row = (
                await connection.execute(text("SELECT sealed FROM issuer_credential_responses"))
            ).one()
        return bytes(row.sealed)

    sealed = client.blocking_portal.call(kept)
    credential = first.json()["credentials"][0]["credential"]
    assert credential.split("~")[0].encode() not in sealed
    assert b"Erika" not in sealed and b"Mustermann" not in sealed


@pytest.mark.parametrize("query", ["limit=ten", "limit=5&=x", "limt=5"])
def test_the_audit_trail_refuses_queries_it_does_not_define_as_problem_details(
    client: TestClient[Any], query: str
) -> None:
    """Found by fuzzing the document: a malformed limit answered OAuth JSON where the
    operator API documents problem details, and unknown parameters were ignored."""
    settings = client.app.state.deployment.settings
    keys = json.loads((settings.var_dir / "operator-keys.json").read_text())
    response = client.get(
        f"/issuers/civil-registry/audit?{query}",
        headers={"Authorization": f"Bearer {keys['civil-registry']}"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
