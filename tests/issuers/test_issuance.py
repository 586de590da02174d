"""End to end: a clerk offers, a spec-only wallet receives, and the reference ``sd-jwt``
package (someone else's code) verifies what we issued."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from jwcrypto.jwk import JWK
from litestar.testing import TestClient
from sd_jwt.holder import SDJWTHolder
from sd_jwt.verifier import SDJWTVerifier

from core.encoding import b64url_decode
from core.keys.x509 import leaf_public_key, validate_x5c
from core.status_list.bits import StatusList
from issuers.services.issue_credential import issuance_times
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.issuers.wallet import Wallet, path_of, proof, read_offer


def operator_key(client: TestClient[Any], issuer_id: str) -> str:
    settings = client.app.state.deployment.settings
    keys = json.loads((settings.var_dir / "operator-keys.json").read_text())
    key: str = keys[issuer_id]
    return key


def create_offer(
    client: TestClient[Any],
    issuer_id: str,
    configuration_id: str,
    claims: dict[str, Any],
    *,
    tx_code: bool = False,
    subject: str = "citizen-42",
) -> dict[str, Any]:
    response = client.post(
        f"/issuers/{issuer_id}/offers",
        json={
            "subject_id": subject,
            "credential_configuration_id": configuration_id,
            "claims": claims,
            "tx_code": tx_code,
        },
        headers={"Authorization": f"Bearer {operator_key(client, issuer_id)}"},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _issuer_key(client: TestClient[Any], credential: str) -> JWK:
    header = json.loads(b64url_decode(credential.split(".", maxsplit=1)[0]))
    anchor = client.app.state.deployment.trust_anchor.certificate
    leaf = validate_x5c(header["x5c"], [anchor], at=dt.datetime.now(dt.UTC))
    return JWK.from_pyca(leaf_public_key(leaf))


def _reference_verifies(
    client: TestClient[Any], credential: str, holder_key: Any, disclose: dict[str, Any]
) -> dict[str, Any]:
    """The reference holder presents; the reference verifier checks signature and key binding."""
    holder = SDJWTHolder(credential)
    holder_jwk = JWK.from_pyca(holder_key._key)
    holder.create_presentation(
        disclose,
        nonce="n-123",
        aud="https://verifier.example",
        holder_key=holder_jwk,
        sign_alg="ES256",
    )
    verifier = SDJWTVerifier(
        holder.sd_jwt_presentation,
        lambda iss, header: _issuer_key(client, credential),
        expected_aud="https://verifier.example",
        expected_nonce="n-123",
    )
    payload: dict[str, Any] = verifier.get_verified_payload()
    return payload


@pytest.mark.parametrize("by_value", [False, True])
@pytest.mark.parametrize("with_tx_code", [False, True])
def test_national_id_issuance(client: TestClient[Any], by_value: bool, with_tx_code: bool) -> None:
    created = create_offer(client, "civil-registry", "national_id", CITIZEN, tx_code=with_tx_code)
    assert (created["tx_code"] is not None) == with_tx_code
    assert created["expires_at"].endswith("Z")
    assert created["qr"]["svg"].startswith("<svg")
    offer_uri = created["offer_uri_by_value"] if by_value else created["offer_uri"]
    body, credentials, holders = Wallet(client).receive(offer_uri, tx_code=created["tx_code"])
    assert len(credentials) == 1 and body["notification_id"]
    credential = credentials[0]
    header = json.loads(b64url_decode(credential.split(".")[0]))
    assert (
        header["typ"] == "dc+sd-jwt"
        and header["alg"] == "ES256"
        and header["kid"]
        and header["x5c"]
    )
    payload = _reference_verifies(
        client, credential, holders[0], {"given_name": True, "address": {"locality": True}}
    )
    assert payload["iss"] == f"{PUBLIC_BASE_URL}/issuers/civil-registry"
    assert payload["vct"] == f"{PUBLIC_BASE_URL}/issuers/civil-registry/types/national_id"
    assert payload["given_name"] == "Erika"
    assert payload["address"] == {"locality": "Köln"}
    assert "family_name" not in payload and "birthdate" not in payload
    assert payload["cnf"]["jwk"]["x"] == holders[0].public_jwk()["x"]
    assert payload["exp"] > time.time() + 3000 * 86400
    status = payload["status"]["status_list"]
    assert status["uri"].startswith(f"{PUBLIC_BASE_URL}/issuers/civil-registry/status-lists/")


def test_driving_licence_batch_is_unlinkable(client: TestClient[Any]) -> None:
    created = create_offer(client, "transport-agency", "driving_licence", DRIVER)
    _, credentials, holders = Wallet(client).receive(created["offer_uri"], batch=3)
    assert len(credentials) == 3
    issuer_jwts = [c.split("~")[0] for c in credentials]
    payloads = [json.loads(b64url_decode(j.split(".")[1])) for j in issuer_jwts]
    indices = [p["status"]["status_list"]["idx"] for p in payloads]
    assert len(set(indices)) == 3
    digests = [set(p["_sd"]) for p in payloads]
    assert not (digests[0] & digests[1]) and not (digests[1] & digests[2])
    # No linkable issuance time: each its own instant of the day before, none in the future
    # and each valid for the configuration's days from its own iat.
    issued = [p["iat"] for p in payloads]
    assert len(set(issued)) == 3
    today = int(time.time()) // 86400 * 86400
    assert all(today - 86400 < iat <= today for iat in issued)
    assert all(p["exp"] - p["iat"] == 1825 * 86400 for p in payloads)
    assert [p["cnf"]["jwk"]["x"] for p in payloads] == [h.public_jwk()["x"] for h in holders]
    # one vehicle category disclosed on its own
    payload = _reference_verifies(
        client, credentials[1], holders[1], {"driving_privileges": [True, False]}
    )
    assert payload["driving_privileges"] == [DRIVER["driving_privileges"][0]]


def test_status_list_is_published_with_caching_headers(client: TestClient[Any]) -> None:
    created = create_offer(client, "civil-registry", "national_id", CITIZEN)
    _, credentials, _ = Wallet(client).receive(created["offer_uri"])
    payload = json.loads(b64url_decode(credentials[0].split("~")[0].split(".")[1]))
    reference = payload["status"]["status_list"]
    response = client.get(path_of(reference["uri"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/statuslist+jwt")
    max_age = int(response.headers["cache-control"].split("max-age=")[1])
    token_payload = json.loads(b64url_decode(response.text.split(".")[1]))
    assert 0 < max_age <= token_payload["ttl"]
    assert token_payload["sub"] == reference["uri"]
    assert StatusList.from_json(token_payload["status_list"]).get(reference["idx"]) == 0
    etag = response.headers["etag"]
    for candidates in (etag, f'"other", W/{etag}', "*"):  # RFC 9110 §13.1.2
        again = client.get(path_of(reference["uri"]), headers={"If-None-Match": candidates})
        assert again.status_code == 304, candidates
    changed = client.get(path_of(reference["uri"]), headers={"If-None-Match": '"other"'})
    assert changed.status_code == 200


def test_offer_by_reference_can_be_fetched_twice_then_is_gone(client: TestClient[Any]) -> None:
    created = create_offer(client, "civil-registry", "national_id", CITIZEN)
    path = path_of(created["credential_offer_uri"])
    first, second = client.get(path), client.get(path)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() == created["credential_offer"]
    Wallet(client).receive(created["offer_uri"])
    assert client.get(path).status_code == 404


def test_notification(client: TestClient[Any]) -> None:
    created = create_offer(client, "civil-registry", "national_id", CITIZEN)
    wallet = Wallet(client)
    offer_document = read_offer(client, created["offer_uri"])
    metadata = wallet.metadata(offer_document["credential_issuer"])
    token = wallet.token(offer_document).json()["access_token"]
    holder = wallet.new_holder()
    response = wallet.credential(
        metadata,
        token,
        {
            "credential_configuration_id": "national_id",
            "proofs": {
                "jwt": [proof(holder, offer_document["credential_issuer"], wallet.nonce(metadata))]
            },
        },
    )
    notification_id = response.json()["notification_id"]
    endpoint = path_of(metadata["notification_endpoint"])
    headers = {"Authorization": f"Bearer {token}"}
    operator = {"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"}

    def desk_view() -> list[Any]:
        subject = client.get("/issuers/civil-registry/subjects/citizen-42", headers=operator)
        return [c["wallet_notification"] for c in subject.json()["credentials"]]

    assert desk_view() == [None]  # the desk sees that receipt is not confirmed
    accepted = client.post(
        endpoint,
        json={"notification_id": notification_id, "event": "credential_accepted"},
        headers=headers,
    )
    assert accepted.status_code == 204
    assert desk_view() == ["credential_accepted"]
    unknown = client.post(
        endpoint, json={"notification_id": "nope", "event": "credential_accepted"}, headers=headers
    )
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_notification_id"
    bad = client.post(
        endpoint,
        json={"notification_id": notification_id, "event": "credential_liked"},
        headers=headers,
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_notification_request"
    no_token = client.post(
        endpoint, json={"notification_id": notification_id, "event": "credential_deleted"}
    )
    assert no_token.status_code == 401 and no_token.json()["error"] == "invalid_token"


def test_issuance_times_are_rounded_and_drawn_apart_for_each_credential() -> None:
    now = 1_764_430_000.7
    window = int(now) // 3600 * 3600
    times = issuance_times(now, 3600, 86400.0, 10)
    assert len({iat for iat, _ in times}) == 10
    assert all(window - 3600 < iat <= window and exp == iat + 86400 for iat, exp in times)
    assert issuance_times(now, 1, 86400.0, 2) == [(int(now), int(now) + 86400)] * 2
    assert len(issuance_times(now, 2, 10.0, 5)) == 5  # more credentials than instants
