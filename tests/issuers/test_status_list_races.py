"""SECURITY-CASES F08 on SQLite and PostgreSQL: 100 revocations and 100 issuances at once
on one status list. Afterwards the published bits equal the database's status of every
credential (no update lost to a read-modify-write race), no index is used twice, and the
indices handed out are not a predictable progression."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient
from sqlalchemy import text

from app import create_app
from app.settings import Settings
from core.encoding import b64url_decode
from core.keys.signer import SoftwareSigner
from core.status_list.bits import StatusList
from tests.issuers.conftest import PUBLIC_BASE_URL, without_rate_limits
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer, operator_key
from tests.issuers.wallet import PRE_AUTHORIZED_GRANT, Wallet, proof, read_offer
from tests.support.invariants import assert_invariants

EACH = 100


def _credential_ids(client: TestClient[Any], subject: str) -> list[str]:
    view = client.get(
        f"/issuers/civil-registry/subjects/{subject}",
        headers={"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"},
    ).json()
    return [c["credential_id"] for c in view["credentials"]]


def test_f08_revocations_and_issuances_on_one_list(settings: Settings) -> None:
    with TestClient(
        app=create_app(without_rate_limits(settings)), base_url=PUBLIC_BASE_URL
    ) as client:
        _revocations_and_issuances_on_one_list(client)


def _revocations_and_issuances_on_one_list(client: TestClient[Any]) -> None:
    for n in range(EACH):
        created = create_offer(client, "civil-registry", "national_id", CITIZEN, subject=f"old-{n}")
        Wallet(client).receive(created["offer_uri"])
    to_revoke = [cid for n in range(EACH) for cid in _credential_ids(client, f"old-{n}")]
    offers = [
        read_offer(
            client,
            create_offer(client, "civil-registry", "national_id", CITIZEN, subject=f"new-{n}")[
                "offer_uri"
            ],
        )
        for n in range(EACH)
    ]
    issuer = offers[0]["credential_issuer"]
    key = operator_key(client, "civil-registry")

    async def issue(http: httpx.AsyncClient, offer: dict[str, Any]) -> int:
        code = offer["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
        token = await http.post(
            "/issuers/civil-registry/token",
            data={"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": code},
        )
        nonce = (await http.post("/issuers/civil-registry/nonce")).json()["c_nonce"]
        holder = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
        response = await http.post(
            "/issuers/civil-registry/credential",
            json={
                "credential_configuration_id": "national_id",
                "proofs": {"jwt": [proof(holder, issuer, nonce)]},
            },
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        return response.status_code

    async def revoke(http: httpx.AsyncClient, credential_id: str) -> int:
        response = await http.post(
            "/issuers/civil-registry/credentials/revoke",
            json={"credential_id": credential_id, "reason": "race"},
            headers={"Authorization": f"Bearer {key}"},
        )
        return response.status_code

    async def race(app: Any) -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=str(client.base_url), timeout=120
        ) as http:
            return list(
                await asyncio.gather(
                    *(issue(http, o) for o in offers), *(revoke(http, c) for c in to_revoke)
                )
            )

    statuses = client.blocking_portal.call(race, client.app)
    assert statuses == [200] * (2 * EACH)

    engine = client.app.state.deployment.engine

    async def rows() -> list[Any]:
        async with engine.connect() as connection:
            result = await connection.execute(
                text(
                    "SELECT credential_id, status_list_id, status_index, status, issued_at FROM issuer_credentials"
                )
            )
            return list(result)

    ledger = client.blocking_portal.call(rows)
    assert len(ledger) == 2 * EACH
    places = [(r.status_list_id, r.status_index) for r in ledger]
    assert len(set(places)) == len(places), "an index was handed out twice"
    revoked = set(to_revoke)
    assert all((r.status == 1) == (r.credential_id in revoked) for r in ledger)

    _, issued, _ = Wallet(client).receive(
        create_offer(client, "civil-registry", "national_id", CITIZEN, subject="reader")[
            "offer_uri"
        ]
    )
    payload = json.loads(b64url_decode(issued[0].split("~")[0].split(".")[1]))
    uri = payload["status"]["status_list"]["uri"]
    token = client.get(urlsplit(uri).path).text
    bits = StatusList.from_json(json.loads(b64url_decode(token.split(".")[1]))["status_list"])
    for row in ledger:
        assert bits.get(row.status_index) == row.status

    new = sorted((r for r in ledger if r.credential_id not in revoked), key=lambda r: r.issued_at)
    steps = {b.status_index - a.status_index for a, b in itertools.pairwise(new)}
    assert len(steps) > 1, "indices follow an arithmetic progression"
    assert_invariants(engine.url.render_as_string(hide_password=False))
