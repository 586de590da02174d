"""Receiving a credential through the citizen mobile API over HTTP: the authorization code
flow the phone starts itself, beside today's pre-authorized receipt, on the same server in
the same run.

One ``idwallet serve`` worker pinned to one CPU, with the development authenticator
(``IDWALLET_TEST_CITIZEN=demo-citizen``: the agency's authorization endpoint takes every
citizen to be that subject of its register and answers at once); the load generator on
the other CPU plays registered phones whose keys the server holds (``custody: server``).

- An **authorization-code receipt** of the civil registry's national ID: the phone asks
  for it (``POST /wallet/issuances``: the wallet discovers the issuer, pushes its request
  with its wallet attestation, PKCE and a DPoP key of this issuance, and answers with the
  authorization URL); the load generator plays the citizen's browser (``GET`` of that URL,
  no redirect followed: the agency answers 303 to ``/wallet/callback``); the phone hands
  the redirect back (``POST /wallet/issuances/authorized``: the wallet checks it, redeems
  the code with DPoP, asks for a c_nonce, makes the holder keys and their key-attested
  proofs, requests the credentials, verifies and seals them) and reads ``received``.
- A **pre-authorized receipt**: the phone posts the scanned offer URI (``POST
  /wallet/scans``: the wallet fetches the offer and the issuer's metadata) and accepts it
  (``POST /wallet/offers/{id}/accept``: token, nonce, key-attested proofs, credential,
  verification, sealing). The operator's offers are made in the same run, timed as a row
  of their own (each renders its QR code).
- ``GET /health``, the trivial endpoint.

The wallet reaches the agency of its own deployment in process (the outbound client's
ASGI transport), so the worker's CPU time per receipt, read from ``/proc``, covers both
roles: the wallet's and the issuer's. Phones are registered before the clock starts; each
connection takes turns among a few phones, so no citizen piles up hundreds of credentials.
The receipts and the offers take turns in a few rounds (``drive_each``), so that a slow
spell of a shared machine hits them alike.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.cpu_time import CpuWatch
from bench.http_client import Connection
from bench.http_haip_issuance import drive_each, run_with_wallet_providers
from bench.http_issuance import LoadResult
from bench.http_wallet import _citizen
from bench.national_id import SUBJECT

ISSUER = "civil-registry"
CONFIGURATION = "national_id"
AUTHORIZATION_CODE = (
    "authorization-code receipt (start + the browser at the agency + redirect handed back)"
)
OFFER = "the operator creates an offer (operator API, QR code rendered)"
PRE_AUTHORIZED = "pre-authorized receipt (scan + accept)"
HEALTH = "GET /health"
#: The receipts of each kind take turns in this many rounds (the machine may be shared).
ROUNDS = 4
#: At most this many receipts of each kind go to one phone.
RECEIPTS_PER_PHONE = 10


@dataclass(frozen=True)
class ReceiptResult:
    loads: list[LoadResult]


def _expect(what: str, status: int, wanted: int, body: bytes) -> None:
    if status != wanted:
        raise RuntimeError(f"{what} answered {status}: {body[:300]!r}")


async def _measure(
    base: str, var_dir: Path, database: str, concurrency: int, count: int, watch: CpuWatch
) -> list[LoadResult]:
    keys = json.loads((var_dir / "operator-keys.json").read_text())
    operator = {"Authorization": f"Bearer {keys[ISSUER]}"}
    per_connection = max(1, math.ceil(count / concurrency / RECEIPTS_PER_PHONE))
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        tokens = [
            await _citizen(client, keys[ISSUER], 0) for _ in range(concurrency * per_connection)
        ]
    phones = [{"Authorization": f"Bearer {token}"} for token in tokens]
    connections = [Connection(base) for _ in range(concurrency)]
    turns = {id(c): 0 for c in connections}
    owners = {
        id(c): phones[n * per_connection : (n + 1) * per_connection]
        for n, c in enumerate(connections)
    }
    offers: dict[int, str] = {}
    callback = f"{base}/wallet/callback?"

    def phone(connection: Connection) -> dict[str, str]:
        """The next of this connection's phones: one phone never receives twice at once."""
        own = owners[id(connection)]
        turns[id(connection)] += 1
        return own[turns[id(connection)] % len(own)]

    async def authorization_code(connection: Connection, _: int) -> None:
        headers = phone(connection)
        started = await connection.post_json(
            "/wallet/issuances",
            {
                "credential_issuer": f"{base}/issuers/{ISSUER}",
                "credential_configuration_id": CONFIGURATION,
                "custody": "server",
            },
            headers=headers,
        )
        _expect("POST /wallet/issuances", started.status, 201, started.body)
        url = urlsplit(started.json()["authorization_url"])
        browsed = await connection.get(f"{url.path}?{url.query}")
        _expect("the authorization endpoint", browsed.status, 303, browsed.body)
        redirect = browsed.headers["location"]
        if not redirect.startswith(callback):
            raise RuntimeError(f"sent elsewhere than the wallet's callback: {redirect[:200]}")
        received = await connection.post_json(
            "/wallet/issuances/authorized", {"redirect_url": redirect}, headers=headers
        )
        _expect("POST /wallet/issuances/authorized", received.status, 200, received.body)
        if received.json()["status"] != "received":
            raise RuntimeError(f"not received: {received.body[:300]!r}")

    async def offer(connection: Connection, index: int) -> None:
        created = await connection.post_json(
            f"/issuers/{ISSUER}/offers",
            {
                "subject_id": f"bench-receipt-{index}",
                "credential_configuration_id": CONFIGURATION,
                "claims": SUBJECT,
            },
            headers=operator,
        )
        _expect("the operator API", created.status, 201, created.body)
        offers[index] = created.json()["offer_uri"]

    async def pre_authorized(connection: Connection, index: int) -> None:
        headers = phone(connection)
        scanned = await connection.post_json(
            "/wallet/scans", {"uri": offers.pop(index)}, headers=headers
        )
        _expect("POST /wallet/scans", scanned.status, 201, scanned.body)
        offer_id = scanned.json()["offer"]["offer_id"]
        accepted = await connection.post_json(
            f"/wallet/offers/{offer_id}/accept", {"custody": "server"}, headers=headers
        )
        _expect("POST /wallet/offers/…/accept", accepted.status, 200, accepted.body)
        if accepted.json()["status"] != "received":
            raise RuntimeError(f"not received: {accepted.body[:300]!r}")

    async def warm_up(connection: Connection, _: int) -> None:
        """One receipt of each kind: the issuer's metadata discovered and kept."""
        await authorization_code(connection, 0)
        await offer(connection, -1)
        await pre_authorized(connection, -1)

    return await drive_each(
        connections,
        database,
        (
            (AUTHORIZATION_CODE, authorization_code, count),
            (OFFER, offer, count),
            (PRE_AUTHORIZED, pre_authorized, count),
        ),
        watch=watch,
        health_times=count * 5,
        warm_up=warm_up,
        rounds=ROUNDS,
    )


def run(
    databases: dict[str, str | None],
    *,
    concurrencies: tuple[int, ...] = (1, 16),
    count: int = 200,
    database_name: str = "idwallet_bench",
) -> ReceiptResult:
    return ReceiptResult(
        run_with_wallet_providers(
            databases,
            _measure,
            concurrencies=concurrencies,
            count=count,
            env={"IDWALLET_TEST_CITIZEN": "demo-citizen"},
            database_name=database_name,
        )
    )


def _cpu_ms(load: LoadResult | None) -> float | None:
    if load is None or load.cpu is None:
        return None
    return load.cpu.workers / load.completed * 1000


def table(result: ReceiptResult) -> list[str]:
    lines = [
        "| measurement | database | phones | per second | p50 ms | p99 ms | worker CPU ms each |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result.loads:
        cpu = _cpu_ms(r)
        lines.append(
            f"| {r.name} | {r.database} | {r.concurrency} | {r.per_second:,.1f} "
            f"| {r.percentile(0.5):,.1f} | {r.percentile(0.99):,.1f} "
            f"| {'' if cpu is None else f'{cpu:,.2f}'} |"
        )
    lines.append("")
    for database in dict.fromkeys(r.database for r in result.loads):
        for concurrency in dict.fromkeys(r.concurrency for r in result.loads):
            found = {
                r.name: r
                for r in result.loads
                if r.database == database and r.concurrency == concurrency
            }
            code, pre = found.get(AUTHORIZATION_CODE), found.get(PRE_AUTHORIZED)
            code_ms, pre_ms, offer_ms = _cpu_ms(code), _cpu_ms(pre), _cpu_ms(found.get(OFFER))
            if code is None or pre is None or code_ms is None or pre_ms is None:
                continue
            with_offer = (
                ""
                if offer_ms is None
                else f", {code_ms / (pre_ms + offer_ms):.2f}× counting the operator's offer"
            )
            phones = "1 phone" if concurrency == 1 else f"{concurrency} phones"
            lines.append(
                f"- {database}, {phones}: an authorization-code receipt costs the worker "
                f"{code_ms:.2f} ms of CPU, {code_ms / pre_ms:.2f}× a pre-authorized one"
                f"{with_offer}; {code.per_second:,.1f} against {pre.per_second:,.1f} receipts "
                "per second."
            )
    return lines


def section(result: ReceiptResult) -> list[str]:
    """The section of ``docs/benchmarks.md``; it renders on its own."""
    return [
        "## Receiving through the citizen mobile API",
        "",
        "One `idwallet serve` worker pinned to one CPU and the load generator on the other,",
        "as above; the server runs with the development authenticator",
        "(`IDWALLET_TEST_CITIZEN`): the agency's authorization endpoint takes the citizen to be",
        "`demo-citizen` of its register and answers at once. Registered phones whose keys the",
        "server holds (`custody: server`) receive the civil registry's national ID (a batch of",
        "3). An authorization-code receipt is three requests of the load generator: the",
        "phone's `POST /wallet/issuances` (the wallet reads the issuer's and its authorization",
        "server's metadata and pushes its request with its wallet attestation, PKCE and a DPoP",
        "key of this issuance), the browser's `GET` of the authorization URL (303 to",
        "`/wallet/callback`, not followed) and the phone's `POST /wallet/issuances/authorized`",
        "with that redirect (the wallet checks it, redeems the code with DPoP, asks for a",
        "c_nonce, makes the holder keys and their key-attested proofs, requests the",
        "credentials, verifies, seals and stores them, and notifies the issuer). A",
        "pre-authorized receipt is the phone's `POST /wallet/scans` of an offer (the wallet",
        "fetches the offer and the metadata) and `POST /wallet/offers/{id}/accept` (token,",
        "nonce, the same proofs, credential request, verification, sealing, notification); the",
        "operator's offers are made in the same run and timed as a row of their own. The",
        "wallet reaches its own deployment's agency in process, so the worker's CPU time per",
        "receipt (from `/proc`) covers the wallet's work and the issuer's. Phones are",
        "registered before the clock starts; the two receipts and the offers take turns in",
        f"{ROUNDS} rounds, so that a slow spell of the machine hits them alike.",
        "",
        *table(result),
    ]


def main() -> int:
    """This benchmark alone, its section printed (``python -m bench.http_wallet_receipt``)."""
    from tests.support.postgres import reachable

    postgres = os.environ.get(
        "IDWALLET_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    databases: dict[str, str | None] = {"SQLite": None}
    why_not = reachable(postgres)
    if why_not is None:
        databases["PostgreSQL"] = postgres
    else:
        print(f"PostgreSQL was not measured: {why_not}", file=sys.stderr)
    count = int(os.environ.get("BENCH_RECEIPTS", "200"))
    result = run(databases, count=count, database_name="idwallet_bench_receipt")
    print("\n".join(section(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
