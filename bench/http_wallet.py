"""Presentations through the citizen mobile API over HTTP on loopback: a real
``idwallet serve`` with one worker (pinned to one CPU), and a bounded load generator on
the other CPU. One complete presentation is what a counter and a citizen's phone do: the
counter creates a request for ``age_over_18`` (counter API), the phone posts the scanned
URI (the wallet fetches and checks the signed request object and answers with the consent
view), the phone approves (the wallet cuts the credential down, signs the KB-JWT with the
server-held holder key and posts it; our verifier checks it and answers 200). Beside it,
``GET /health`` of the same server, and the rate at which the worker lists the credentials
of a citizen who holds 50 (four phones asking at once). Accounts and credentials are made
before the clock starts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from bench.http_client import Connection
from bench.http_issuance import LoadResult, _drive, run_on_fresh_servers
from bench.national_id import SUBJECT
from core.jose.jws import sign_compact
from core.keys.signer import SoftwareSigner

LISTED_CREDENTIALS = 50
#: Phones listing at once (the same citizen's credentials).
LISTING_CONCURRENCY = 4


async def _proof(client: httpx.AsyncClient, signer: SoftwareSigner, header: dict[str, str]) -> str:
    challenge = (await client.post("/wallet/challenges")).json()["challenge"]
    payload = {
        "aud": f"{client.base_url}".rstrip("/") + "/wallet",
        "iat": int(time.time()),
        "nonce": challenge,
    }
    return sign_compact(
        payload, signer, typ="wallet-device-proof+jwt", header=header, include_kid=False
    )


async def _citizen(client: httpx.AsyncClient, operator_key: str, credentials: int) -> str:
    """A registered phone holding ``credentials`` national IDs; its access token."""
    device = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
    proof = await _proof(client, device, {"jwk": device.public_jwk()})  # type: ignore[dict-item]
    session = (await client.post("/wallet/accounts", json={"device_proof": proof})).json()
    token: str = session["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for index in range(credentials):
        offer = await client.post(
            "/issuers/civil-registry/offers",
            json={
                "subject_id": f"bench-citizen-{index}",
                "credential_configuration_id": "national_id",
                "claims": SUBJECT,
            },
            headers={"Authorization": f"Bearer {operator_key}"},
        )
        scanned = await client.post(
            "/wallet/scans", json={"uri": offer.json()["offer_uri"]}, headers=headers
        )
        offer_id = scanned.json()["offer"]["offer_id"]
        accepted = await client.post(
            f"/wallet/offers/{offer_id}/accept", json={"custody": "server"}, headers=headers
        )
        if accepted.status_code != 200:
            raise RuntimeError(f"receiving failed: {accepted.text[:200]}")
    return token


async def _present(connection: Connection, counter_key: str, token: str) -> None:
    created = await connection.post_json(
        "/verifiers/bar-age-check/presentations",
        {"template": "age_over_18"},
        headers={"Authorization": f"Bearer {counter_key}"},
    )
    if created.status != 201:
        raise RuntimeError(f"request failed: {created.body[:200]!r}")
    headers = {"Authorization": f"Bearer {token}"}
    scanned = await connection.post_json(
        "/wallet/scans", {"uri": created.json()["uri"]}, headers=headers
    )
    if scanned.status != 201:
        raise RuntimeError(f"scan failed: {scanned.body[:200]!r}")
    presentation_id = scanned.json()["presentation"]["presentation_id"]
    approved = await connection.post_json(
        f"/wallet/presentations/{presentation_id}/approve", {}, headers=headers
    )
    if approved.status != 200 or approved.json()["outcome"] != "accepted":
        raise RuntimeError(f"presentation failed: {approved.body[:300]!r}")


async def measure_presentations(
    base: str, var_dir: Path, database: str, concurrency: int, count: int
) -> list[LoadResult]:
    keys = json.loads((var_dir / "operator-keys.json").read_text())
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        tokens = [await _citizen(client, keys["civil-registry"], 1) for _ in range(concurrency)]
        holder_of_many = await _citizen(client, keys["civil-registry"], LISTED_CREDENTIALS)
    connections = [Connection(base) for _ in range(concurrency)]

    async def presentation(connection: Connection, index: int) -> None:
        await _present(connection, keys["bar-age-check"], tokens[index % concurrency])

    async def health(connection: Connection, _: int) -> None:
        if (await connection.get("/health")).status != 200:
            raise RuntimeError("health failed")

    async def listing(connection: Connection, _: int) -> None:
        listed = await connection.get(
            "/wallet/credentials", headers={"Authorization": f"Bearer {holder_of_many}"}
        )
        if listed.status != 200 or len(listed.json()["credentials"]) != LISTED_CREDENTIALS:
            raise RuntimeError("listing failed")

    try:
        await _drive(concurrency * 2, connections, health)
        measured = await _drive(count, connections, presentation)
        trivial = await _drive(count * 10, connections, health)
        results = [
            LoadResult(
                "complete presentation (scan + consent + submit)",
                database,
                concurrency,
                count,
                measured.seconds,
                measured.latencies,
                cpu=measured.cpu,
            ),
            LoadResult(
                "GET /health", database, concurrency, count * 10, trivial.seconds, trivial.latencies
            ),
        ]
        if concurrency == 1:
            # several phones at once, so that the worker, not one client's round trips,
            # sets the rate: listings per second per worker
            listers = [Connection(base) for _ in range(LISTING_CONCURRENCY)]
            try:
                listed = await _drive(200, listers, listing)
            finally:
                for lister in listers:
                    await lister.close()
            results.append(
                LoadResult(
                    f"list {LISTED_CREDENTIALS} credentials (with live status)",
                    database,
                    LISTING_CONCURRENCY,
                    200,
                    listed.seconds,
                    listed.latencies,
                )
            )
    finally:
        for connection in connections:
            await connection.close()
    return results


def run(databases: dict[str, str | None], *, count: int = 200) -> list[LoadResult]:
    return run_on_fresh_servers(
        databases, measure_presentations, concurrencies=(1, 16), count=count
    )
