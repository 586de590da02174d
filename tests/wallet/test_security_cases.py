"""SECURITY-CASES.md rows of the wallet as named HTTP tests: W01, W03, W06, W08–W13, W17,
A03 and A04 (W05 is in ``test_interop``). The verifier faults are request objects signed
by the stand-in verifier's key, whose certificate chains to an anchor the wallet trusts,
unless the row is about the chain itself; whatever the fault, nothing reaches the
``response_uri``."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from litestar.testing import TestClient
from sqlalchemy import text

from app.settings import Settings
from core.keys.signer import SoftwareSigner
from core.keys.x509 import create_trust_anchor, to_x5c
from tests.issuers.test_issuance import create_offer
from tests.verifiers.presenter import create_request
from tests.wallet.phone import Phone
from tests.wallet.stand_ins import (
    ANCHOR,
    NOW,
    StandIns,
    _x509_hash,
    running_stand_ins,
    settings_with_stand_ins,
)

CANARY = {
    "given_name": "Zzcanarygiven",
    "family_name": "Zzcanaryfamily",
    "birthdate": "1960-01-01",
}


@pytest.fixture
def stand_ins() -> Iterator[StandIns]:
    with running_stand_ins() as running:
        yield running


@pytest.fixture
def settings(var_dir: Path, database_url: str, stand_ins: StandIns) -> Settings:
    settings: Settings = settings_with_stand_ins(var_dir, database_url, stand_ins)
    return settings


@pytest.fixture
def phone(client: TestClient[Any], stand_ins: StandIns) -> Phone:
    phone = Phone(client)
    phone.register()
    phone.receive(stand_ins.offer_uri())
    return phone


def _claims(stand_ins: StandIns, **changes: Any) -> dict[str, Any]:
    client_id = f"x509_hash:{_x509_hash(stand_ins.verifier_x5c)}"
    claims: dict[str, Any] = {
        "iss": client_id,
        "aud": "https://self-issued.me/v2",
        "iat": int(time.time()),
        "exp": int(time.time()) + 300,
        "client_id": client_id,
        "response_type": "vp_token",
        "response_mode": "direct_post",
        "response_uri": f"{stand_ins.base}/response/forged",
        "nonce": "n-0S6_WzA2Mj-0123456789",
        "state": "s-1",
        "dcql_query": {
            "credentials": [
                {
                    "id": "pid",
                    "format": "dc+sd-jwt",
                    "meta": {"vct_values": ["urn:example:stand-in:pid"]},
                    "claims": [{"path": ["age_over_18"]}],
                }
            ]
        },
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def _signed(
    stand_ins: StandIns,
    claims: dict[str, Any],
    *,
    header: dict[str, Any] | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> str:
    headers = {"typ": "oauth-authz-req+jwt", "x5c": stand_ins.verifier_x5c, **(header or {})}
    headers = {k: v for k, v in headers.items() if v is not None}
    return jwt.encode(claims, key or stand_ins.verifier_key, algorithm="ES256", headers=headers)


def _by_value(token: str, client_id: str | None) -> str:
    parameters = {"request": token}
    if client_id is not None:
        parameters["client_id"] = client_id
    return "openid4vp://?" + urlencode(parameters)


def _refused(phone: Phone, stand_ins: StandIns, uri: str, error: str) -> None:
    response = phone.scan(uri)
    assert response.status_code in (400, 413, 422), response.text
    assert response.json()["error"] == error, response.text
    assert stand_ins.posted == []


def test_the_honest_request_is_accepted(phone: Phone, stand_ins: StandIns) -> None:
    claims = _claims(stand_ins)
    response = phone.scan(_by_value(_signed(stand_ins, claims), claims["client_id"]))
    assert response.status_code == 201, response.text  # the baseline the faults depart from


@pytest.mark.parametrize(
    "fault",
    ["typ missing", "typ JWT", "alg none", "signature invalid", "other key"],
)
def test_w08_request_object_type_algorithm_and_signature(
    phone: Phone, stand_ins: StandIns, fault: str
) -> None:
    claims = _claims(stand_ins)
    if fault == "typ missing":
        token = _signed(stand_ins, claims, header={"typ": None})
    elif fault == "typ JWT":
        token = _signed(stand_ins, claims, header={"typ": "JWT"})
    elif fault == "alg none":
        token = jwt.encode(
            claims,
            None,
            algorithm="none",
            headers={"typ": "oauth-authz-req+jwt", "x5c": stand_ins.verifier_x5c},
        )
    elif fault == "signature invalid":
        good = _signed(stand_ins, claims)
        token = good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBB")
    else:
        token = _signed(stand_ins, claims, key=ec.generate_private_key(ec.SECP256R1()))
    _refused(phone, stand_ins, _by_value(token, claims["client_id"]), "invalid_request_object")


def test_w09_client_id_must_match(phone: Phone, stand_ins: StandIns) -> None:
    claims = _claims(stand_ins)
    token = _signed(stand_ins, claims)
    _refused(
        phone, stand_ins, _by_value(token, "x509_hash:somebody-else"), "invalid_request_object"
    )


@pytest.mark.parametrize(
    "client_id", ["invalid_scheme:x", "origin:https://verifier.example", "plain-client"]
)
def test_w10_unknown_or_reserved_prefixes(
    phone: Phone, stand_ins: StandIns, client_id: str
) -> None:
    claims = _claims(stand_ins, client_id=client_id)
    _refused(phone, stand_ins, _by_value(_signed(stand_ins, claims), client_id), "invalid_client")


def _self_signed_x5c() -> list[str]:
    key = ec.generate_private_key(ec.SECP256R1())
    return list(
        to_x5c([create_trust_anchor(SoftwareSigner(key), common_name="localhost", now=NOW)])
    )


@pytest.mark.parametrize(
    "fault",
    ["dns not in SAN", "response_uri elsewhere", "hash mismatch", "self-signed", "anchor in x5c"],
)
def test_w11_certificate_binding(phone: Phone, stand_ins: StandIns, fault: str) -> None:
    header: dict[str, Any] = {}
    if fault == "dns not in SAN":
        claims = _claims(stand_ins, client_id="x509_san_dns:verifier.example")
    elif fault == "response_uri elsewhere":
        claims = _claims(
            stand_ins, client_id="x509_san_dns:localhost", response_uri="https://evil.example/cb"
        )
    elif fault == "hash mismatch":
        claims = _claims(stand_ins, client_id="x509_hash:" + "A" * 43)
    elif fault == "self-signed":
        claims = _claims(stand_ins)
        header = {"x5c": _self_signed_x5c()}
    else:
        claims = _claims(stand_ins)
        header = {
            "x5c": [
                *stand_ins.verifier_x5c,
                base64.b64encode(ANCHOR.public_bytes(Encoding.DER)).decode(),
            ]
        }
    token = _signed(stand_ins, claims, header=header)
    _refused(phone, stand_ins, _by_value(token, claims["client_id"]), "invalid_client")


def test_w11_san_dns_with_its_own_host_is_accepted(phone: Phone, stand_ins: StandIns) -> None:
    claims = _claims(stand_ins, client_id="x509_san_dns:localhost")
    response = phone.scan(_by_value(_signed(stand_ins, claims), claims["client_id"]))
    assert response.status_code == 201, response.text


def _unsigned(stand_ins: StandIns, client_id: str, response_uri: str, **extra: str) -> str:
    parameters = {
        "client_id": client_id,
        "response_type": "vp_token",
        "response_mode": "direct_post",
        "response_uri": response_uri,
        "nonce": "n-0123456789abcdef",
        "dcql_query": json.dumps(_claims(stand_ins)["dcql_query"]),
        **extra,
    }
    return "openid4vp://?" + urlencode(parameters)


def test_w12_redirect_uri_prefix(phone: Phone, stand_ins: StandIns) -> None:
    own = f"{stand_ins.base}/response/cb"
    _refused(
        phone,
        stand_ins,
        _unsigned(stand_ins, f"redirect_uri:{own}", f"{stand_ins.base}/other"),
        "invalid_client",
    )
    claims = _claims(stand_ins, client_id=f"redirect_uri:{own}", response_uri=own)
    _refused(
        phone,
        stand_ins,
        _by_value(_signed(stand_ins, claims), claims["client_id"]),
        "invalid_client",
    )
    honest = phone.scan(_unsigned(stand_ins, f"redirect_uri:{own}", own))
    assert honest.status_code == 201, honest.text
    verifier = honest.json()["presentation"]["verifier"]
    assert verifier["authenticated"] is False and verifier["name"] is None
    assert any(
        w.startswith("unauthenticated_verifier") for w in honest.json()["presentation"]["warnings"]
    )


def test_w13_nonce_and_response_mode(phone: Phone, stand_ins: StandIns) -> None:
    claims = _claims(stand_ins, nonce=None)
    _refused(
        phone,
        stand_ins,
        _by_value(_signed(stand_ins, claims), claims["client_id"]),
        "invalid_request",
    )
    claims = _claims(stand_ins, redirect_uri=f"{stand_ins.base}/cb")
    _refused(
        phone,
        stand_ins,
        _by_value(_signed(stand_ins, claims), claims["client_id"]),
        "invalid_request",
    )
    claims = _claims(stand_ins, exp=int(time.time()) - 3600)
    _refused(
        phone,
        stand_ins,
        _by_value(_signed(stand_ins, claims), claims["client_id"]),
        "invalid_request_object",
    )


@pytest.mark.parametrize(
    "response_uri",
    [
        "https://127.0.0.1/cb",
        "https://169.254.169.254/latest",
        "https://[::1]/cb",
        "http://10.0.0.1/cb",
    ],
)
def test_w17_response_uri_inward_is_refused(
    phone: Phone, stand_ins: StandIns, response_uri: str
) -> None:
    _refused(
        phone,
        stand_ins,
        _unsigned(stand_ins, f"redirect_uri:{response_uri}", response_uri),
        "invalid_request",
    )


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:5432/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "file:///etc/passwd",
        "gopher://localhost:70/",
        "https://10.1.2.3/offer",
        "https://localhost:1/offer",
        "redirect",
    ],
)
def test_w01_offer_and_request_uris_inward_are_refused(
    phone: Phone, stand_ins: StandIns, target: str
) -> None:
    if target == "redirect":
        target = f"{stand_ins.base}/redirect-inward"  # allowed host, redirecting inward
    offer = "openid-credential-offer://?" + urlencode({"credential_offer_uri": target})
    response = phone.scan(offer)
    assert response.status_code == 422 and response.json()["error"] == "invalid_request", (
        response.text
    )
    request = "openid4vp://?" + urlencode({"client_id": "x509_hash:abc", "request_uri": target})
    response = phone.scan(request)
    assert response.status_code in (422, 502), response.text


def test_w03_scanned_payloads(phone: Phone) -> None:
    too_big = "openid4vp://?request_uri=https://v.example/" + "a" * 5000
    assert phone.scan(too_big).status_code == 413
    for scanned in ("https://example.org/", "mailto:x@example.org", "", "openid4vp"):
        response = phone.scan(scanned)
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    nested = "[" * 10000 + "]" * 10000
    deep = "openid-credential-offer://?credential_offer=" + quote(nested)
    assert phone.scan(deep).status_code == 413  # larger than any QR code holds
    deep = "openid-credential-offer://?credential_offer=" + "[" * 1000 + "]" * 1000
    response = phone.scan(deep)
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"
    both = "openid-credential-offer://?" + urlencode(
        {"credential_offer": "{}", "credential_offer_uri": "https://i.example/o"}
    )
    assert phone.scan(both).status_code == 400
    repeated = "openid4vp://?client_id=a&client_id=b&request_uri=https://v.example/r"
    assert phone.scan(repeated).status_code == 400
    body = phone.client.post(
        "/wallet/scans", content=b'{"uri": 1, "uri": 2}', headers=phone.headers
    )
    assert body.status_code == 400


def test_w06_one_citizen_never_reaches_another(
    client: TestClient[Any], phone: Phone, stand_ins: StandIns, caplog: pytest.LogCaptureFixture
) -> None:
    other = Phone(client)
    other.register()
    mine = phone.get("/wallet/credentials").json()["credentials"][0]["credential_id"]
    uri, _ = stand_ins.request_uri()
    consent = phone.scan(uri).json()["presentation"]
    offer = phone.scan(stand_ins.offer_uri()).json()["offer"]
    assert other.get(f"/wallet/credentials/{mine}").status_code == 404
    assert other.delete(f"/wallet/credentials/{mine}").status_code == 404
    assert other.get(f"/wallet/credentials?holder={phone.account_id}").json()["credentials"] == []
    assert (
        other.post(f"/wallet/presentations/{consent['presentation_id']}/approve").status_code == 404
    )
    assert (
        other.post(f"/wallet/presentations/{consent['presentation_id']}/decline").status_code == 404
    )
    assert other.post(f"/wallet/offers/{offer['offer_id']}/accept").status_code == 404
    assert other.delete(f"/wallet/devices/{phone.device_id}").status_code == 404
    assert phone.get(f"/wallet/credentials/{mine}").status_code == 200  # untouched
    probes = [r.getMessage() for r in caplog.records if r.name == "idwallet.audit"]
    assert len(probes) == 6 and all(str(other.account_id) in p for p in probes)
    assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"


def _wallet_rows(client: TestClient[Any]) -> bytes:
    """Every row of the wallet's tables as bytes (the agency's own register of the citizen,
    in the same database here, is the agency's business, not the wallet's)."""
    engine = client.app.state.deployment.engine

    async def dump() -> bytes:
        rows = []
        async with engine.connect() as connection:
            for table in (
                "wallet_accounts", "wallet_devices", "wallet_holder_keys", "wallet_credentials",
                "wallet_flows", "wallet_activity", "wallet_refresh_tokens", "wallet_challenges",
            ):  # fmt: skip
                result = await connection.execute(text(f"SELECT * FROM {table}"))
                rows += [repr(tuple(r)).encode() for r in result]
        return b"\n".join(rows)

    dumped: bytes = client.blocking_portal.call(dump)
    return dumped


def test_a04_no_plaintext_claims_or_holder_keys_at_rest(client: TestClient[Any]) -> None:
    from tests.issuers.test_catalog import CITIZEN

    phone = Phone(client)
    phone.register("Zzcanarydevice")
    offer = create_offer(
        client, "civil-registry", "national_id", {**CITIZEN, **CANARY}, tx_code=True
    )
    phone.receive(offer["offer_uri"], tx_code=offer["tx_code"])
    created = create_request(client, "city-hall-counter", template="identity")
    consent = phone.scan(created["uri"]).json()["presentation"]
    assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"
    stored = _wallet_rows(client)
    for canary in (*CANARY.values(), "Zzcanarydevice"):
        assert canary.encode() not in stored
        assert base64.urlsafe_b64encode(json.dumps(canary).encode()).rstrip(b"=") not in stored
    assert b"PRIVATE KEY" not in stored and b'"d":' not in stored
    assert phone.delete("/wallet/account").status_code == 204
    engine = client.app.state.deployment.engine

    async def left() -> int:
        total = 0
        async with engine.connect() as connection:
            for table in (
                "wallet_devices",
                "wallet_credentials",
                "wallet_holder_keys",
                "wallet_activity",
                "wallet_flows",
            ):
                total += (
                    await connection.execute(
                        text(f"SELECT count(*) FROM {table} WHERE account_id = :a"),
                        {"a": phone.account_id},
                    )
                ).scalar_one()
        return total

    assert client.blocking_portal.call(left) == 0


def test_a03_logs_carry_no_personal_data_or_secrets(
    client: TestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    from tests.issuers.test_catalog import CITIZEN

    caplog.set_level(logging.DEBUG)
    phone = Phone(client)
    phone.register()
    offer = create_offer(
        client, "civil-registry", "national_id", {**CITIZEN, **CANARY}, tx_code=True
    )
    assert phone.scan(offer["offer_uri"]).status_code == 201
    phone.receive(offer["offer_uri"], tx_code=offer["tx_code"])
    created = create_request(client, "city-hall-counter", template="identity")
    consent = phone.scan(created["uri"]).json()["presentation"]
    phone.approve(consent["presentation_id"])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    secrets = [
        *CANARY.values(),
        offer["tx_code"],
        phone.access_token or "",
        phone.refresh_token or "",
    ]
    for secret in secrets:
        assert secret not in logged
    assert "~" not in logged  # no SD-JWT


def test_a_request_uri_method_neither_get_nor_post_is_refused(
    phone: Phone, stand_ins: StandIns
) -> None:
    """OpenID4VP 1.0 §8.5 ``invalid_request_uri_method``, and nothing is fetched."""
    uri, _ = stand_ins.request_uri()
    _refused(phone, stand_ins, uri + "&request_uri_method=put", "invalid_request_uri_method")
