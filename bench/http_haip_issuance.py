"""Issuance through the authorization code flow at HAIP level over HTTP, beside the
pre-authorized issuance and ``GET /health`` of the same server in the same run.

One ``idwallet serve`` worker pinned to one CPU, with the development authenticator
(``IDWALLET_TEST_CITIZEN``) and a wallet provider it trusts; the load generator on the
other CPU plays wallet instances that each make, per issuance: the pushed request with a
wallet attestation and its PoP, the authorization (the citizen is signed in at once and
the browser's redirect read), the token request with a DPoP proof and a fresh PoP, the
nonce, and the credential request with a DPoP proof (``ath``) and a jwt proof whose key a
key attestation covers. The worker's CPU time per issuance is read from ``/proc``: the
target is at most twice that of a pre-authorized issuance (token + nonce + credential).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench.cpu_time import CpuUse, CpuWatch, wait_until_idle, watching
from bench.http_client import Connection
from bench.http_issuance import (
    Driven,
    LoadResult,
    _create_offers,
    _database_env,
    _drive,
    _issue,
    fresh_postgres_database,
)
from core.dpop import access_token_hash
from core.jose.jws import sign_compact
from core.keys.signer import SoftwareSigner
from core.oauth import pkce_s256_challenge
from tests.support.dpop_proofs import make_proof
from tests.support.key_attestations import WalletProvider as KeyAttester
from tests.support.key_attestations import seed_wallet_provider
from tests.support.server import ROOT, idwallet_env, running_server
from tests.support.wallet_provider import (
    CLIENT_ID,
    WalletProvider,
    attestation_headers,
    new_instance,
)

REDIRECT = "https://wallet.example.eu/cb"
AUTHORIZATION_CODE = "complete issuance, authorization code at HAIP level (5 requests)"
PRE_AUTHORIZED = "complete issuance, pre-authorized code (3 requests)"
HEALTH = "GET /health"
#: At most this many times a pre-authorized issuance's worker CPU.
CPU_TARGET = 2.0


@dataclass(frozen=True)
class HaipResult:
    loads: list[LoadResult]

    @staticmethod
    def cpu_ms_of(load: LoadResult) -> float | None:
        """The worker's CPU per operation of one measurement, in milliseconds."""
        return None if load.cpu is None else load.cpu.workers / load.completed * 1000

    def cpu_ms(self, name: str) -> float | None:
        for load in self.loads:
            if load.name == name and load.cpu is not None:
                return load.cpu.workers / load.completed * 1000
        return None


class HaipWallet:
    """One wallet instance: its attestation key, DPoP key and a holder key (key-attested
    where the credential asks for it), asking ``agency`` for ``configuration``."""

    def __init__(
        self,
        provider: WalletProvider,
        attester: KeyAttester,
        issuer: str,
        *,
        configuration: str = "national_id",
        key_attested: bool = True,
    ) -> None:
        self.provider, self.issuer = provider, issuer
        self.path = urlsplit(issuer).path
        self.configuration, self.key_attested = configuration, key_attested
        self.instance = new_instance()
        self.dpop_key = ec.generate_private_key(ec.SECP256R1())
        self.holder = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
        self.attester = attester
        self.dpop_nonce = ""

    def attested(self) -> dict[str, str]:
        return attestation_headers(
            self.provider, self.instance, audience=self.issuer, issued_at=time.time()
        )

    def dpop(self, endpoint: str, access_token: str | None = None) -> str:
        claims = {"nonce": self.dpop_nonce}
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        return make_proof(
            self.dpop_key,
            htu=f"{self.issuer}/{endpoint}",
            iat=time.time(),
            jti=secrets.token_urlsafe(12),
            claims=claims,
        )

    def proof(self, c_nonce: str) -> str:
        """A jwt proof, with a key attestation made for this ``c_nonce`` covering its key
        where the credential asks for one (as the wallet provider would make it on
        request, Appendix D.1)."""
        header: dict[str, Any] = {"jwk": self.holder.public_jwk()}
        if self.key_attested:
            header["key_attestation"] = self.attester.attest(
                [self.holder.public_jwk()], nonce=c_nonce
            )
        return sign_compact(
            {"aud": self.issuer, "iat": int(time.time()), "nonce": c_nonce},
            self.holder,
            typ="openid4vci-proof+jwt",
            header=header,
            include_kid=False,
        )

    async def authorize(self, connection: Connection, query: str) -> str:
        """The citizen's browser at the authorization endpoint (signed in at once by the
        development authenticator): the code it is sent back to the wallet with."""
        authorized = await connection.get(f"{self.path}/authorize?{query}")
        _expect(authorized.status, 303, authorized.body)
        return parse_qs(urlsplit(authorized.headers["location"]).query)["code"][0]

    async def issue(self, connection: Connection) -> None:
        verifier = secrets.token_urlsafe(32)
        pushed = await connection.post_form(
            f"{self.path}/par",
            {
                "response_type": "code",
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT,
                "code_challenge": pkce_s256_challenge(verifier),
                "code_challenge_method": "S256",
                "scope": self.configuration,
            },
            headers=self.attested(),
        )
        _expect(pushed.status, 201, pushed.body)
        query = urlencode(
            {"client_id": CLIENT_ID, "request_uri": json.loads(pushed.body)["request_uri"]}
        )
        code = await self.authorize(connection, query)
        token = await connection.post_form(
            f"{self.path}/token",
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
                "client_id": CLIENT_ID,
            },
            headers={**self.attested(), "DPoP": self.dpop("token")},
        )
        _expect(token.status, 200, token.body)
        self.dpop_nonce = token.headers.get("dpop-nonce", self.dpop_nonce)
        access = json.loads(token.body)["access_token"]
        nonce = await connection.request("POST", f"{self.path}/nonce")
        c_nonce = json.loads(nonce.body)["c_nonce"]
        credential = await connection.post_json(
            f"{self.path}/credential",
            {
                "credential_configuration_id": self.configuration,
                "proofs": {"jwt": [self.proof(c_nonce)]},
            },
            headers={"Authorization": f"DPoP {access}", "DPoP": self.dpop("credential", access)},
        )
        _expect(credential.status, 200, credential.body)
        self.dpop_nonce = credential.headers.get("dpop-nonce", self.dpop_nonce)


def _expect(status: int, wanted: int, body: bytes) -> None:
    if status != wanted:
        raise RuntimeError(f"HAIP issuance failed with {status}: {body[:300]!r}")


async def _measure(
    base: str, var_dir: Path, database: str, concurrency: int, count: int, watch: CpuWatch
) -> list[LoadResult]:
    provider, attester = _providers(var_dir)
    key = json.loads((var_dir / "operator-keys.json").read_text())["civil-registry"]
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        issuer = (
            await client.get("/.well-known/openid-credential-issuer/issuers/civil-registry")
        ).json()["credential_issuer"]
        codes = await _create_offers(client, key, count)
        first_nonce = (await client.post("/issuers/civil-registry/nonce")).headers["dpop-nonce"]
    wallets = [HaipWallet(provider, attester, issuer) for _ in range(concurrency)]
    for wallet in wallets:
        wallet.dpop_nonce = first_nonce
    holders = [w.holder for w in wallets]
    connections = [Connection(base) for _ in range(concurrency)]

    async def haip(connection: Connection, index: int) -> None:
        await wallets[index % concurrency].issue(connection)

    async def pre_authorized(connection: Connection, index: int) -> None:
        await _issue(connection, issuer, codes[index], holders[index % concurrency])

    return await drive_each(
        connections,
        database,
        ((AUTHORIZATION_CODE, haip, count), (PRE_AUTHORIZED, pre_authorized, count)),
        watch=watch,
        health_times=count * 5,
    )


Operation = Callable[[Connection, int], Coroutine[Any, Any, None]]


async def _health(connection: Connection, _: int) -> None:
    if (await connection.get("/health")).status != 200:
        raise RuntimeError("health failed")


async def drive_each(
    connections: list[Connection],
    database: str,
    operations: tuple[tuple[str, Operation, int], ...],
    *,
    watch: CpuWatch,
    health_times: int,
    warm_up: Operation | None = None,
    rounds: int = 1,
) -> list[LoadResult]:
    """The connections opened and warmed (and ``warm_up`` run once), then, with the
    worker's CPU watched, each named operation driven its number of times, in turn, and
    the trivial endpoint; one result each. With ``rounds`` above 1 the operations take
    turns that many times, each doing its share of its number (indices still run from 0
    up, each once), so that a slow spell of a shared machine hits them alike; a result adds
    up its rounds (the trivial endpoint runs once, after them). The connections are closed
    at the end."""
    try:
        await _drive(len(connections) * 2, connections, _health)
        if warm_up is not None:
            await _drive(1, connections[:1], warm_up)
        runs = (*operations, (HEALTH, _health, health_times))
        driven: dict[str, list[Driven]] = {name: [] for name, _, _ in runs}
        with watching(watch):
            for turn in range(rounds):
                for name, one, times in operations:
                    start, stop = times * turn // rounds, times * (turn + 1) // rounds
                    driven[name].append(await _drive(stop - start, connections, _from(start, one)))
            # in one go: split, its few clock ticks of CPU would be read too coarsely
            driven[HEALTH].append(await _drive(health_times, connections, _health))
        return [
            LoadResult(
                name,
                database,
                len(connections),
                times,
                sum(d.seconds for d in driven[name]),
                [latency for d in driven[name] for latency in d.latencies],
                cpu=_added(d.cpu for d in driven[name]),
            )
            for name, _, times in runs
        ]
    finally:
        for connection in connections:
            await connection.close()


def _from(start: int, one: Operation) -> Operation:
    """``one`` with its indices counted from ``start``."""

    async def shifted(connection: Connection, index: int) -> None:
        await one(connection, start + index)

    return shifted


def _added(uses: Iterable[CpuUse | None]) -> CpuUse | None:
    """The CPU use of several sections together; None if any was not watched."""
    listed = list(uses)
    if not listed or any(use is None for use in listed):
        return None
    present = [use for use in listed if use is not None]
    workers = sum(use.workers for use in present)
    shares = tuple(
        sum(use.workers * use.worker_shares[i] for use in present) / workers if workers else 0.0
        for i in range(len(present[0].worker_shares))  # the same workers in every section
    )
    return CpuUse(
        workers,
        sum(use.database for use in present),
        sum(use.load_generator for use in present),
        shares,
    )


_PROVIDERS: dict[Path, tuple[WalletProvider, KeyAttester]] = {}


def _providers(var_dir: Path) -> tuple[WalletProvider, KeyAttester]:
    if var_dir not in _PROVIDERS:
        _PROVIDERS[var_dir] = (WalletProvider("Benchmark Wallet Provider"), KeyAttester.create())
    return _PROVIDERS[var_dir]


Measure = Callable[[str, Path, str, int, int, CpuWatch], Coroutine[Any, Any, list[LoadResult]]]


def run_with_wallet_providers(
    databases: dict[str, str | None],
    measure: Measure,
    *,
    concurrencies: tuple[int, ...],
    count: int,
    env: dict[str, str],
    database_name: str = "idwallet_bench",
) -> list[LoadResult]:
    """For each database and concurrency: a fresh server (one worker pinned to one CPU,
    the load generator on the other) trusting the benchmark's wallet providers, with
    ``env`` besides, and ``measure(base_url, var_dir, database, concurrency, count,
    watch)`` on it. On PostgreSQL the database ``database_name`` is made afresh (another
    name lets one benchmark run alone beside a ``make bench``)."""
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})  # load generator: other CPU
    loads: list[LoadResult] = []
    for database, server_url in databases.items():
        for concurrency in concurrencies:
            with tempfile.TemporaryDirectory(prefix="idwallet-bench-haip-") as directory:
                var_dir = Path(directory)
                seed_wallet_provider(var_dir)  # the pre-authorized issuance's attestations
                provider, attester = _providers(var_dir)
                anchors = var_dir / "wallet-provider-roots.pem"
                anchors.write_bytes(
                    b"".join(
                        c.public_bytes(serialization.Encoding.PEM)
                        for c in (provider.root, attester.anchor)
                    )
                )
                url = fresh_postgres_database(server_url, database_name) if server_url else None
                server_env = {
                    **_database_env(url),
                    **env,
                    "IDWALLET_WALLET_PROVIDER_ANCHORS": str(anchors),
                }
                subprocess.run(
                    [sys.executable, "-m", "app.cli", "migrate"],
                    cwd=ROOT,
                    check=True,
                    capture_output=True,
                    env=idwallet_env(var_dir, **server_env),
                )
                prefix = (
                    ["taskset", "-c", "0"]
                    if hasattr(os, "sched_getaffinity") and (os.cpu_count() or 1) > 1
                    else []
                )
                with running_server(var_dir, command_prefix=prefix, **server_env) as server:
                    pid = server.process.pid
                    wait_until_idle([pid])
                    watch = CpuWatch([pid], database=url is not None)
                    loads += asyncio.run(
                        measure(server.base_url, var_dir, database, concurrency, count, watch)
                    )
                _PROVIDERS.pop(var_dir, None)
    return loads


def run(
    databases: dict[str, str | None], *, concurrencies: tuple[int, ...] = (1, 16), count: int = 200
) -> HaipResult:
    return HaipResult(
        run_with_wallet_providers(
            databases,
            _measure,
            concurrencies=concurrencies,
            count=count,
            env={"IDWALLET_TEST_CITIZEN": "demo-citizen"},
        )
    )


def table(result: HaipResult) -> list[str]:
    lines = [
        "| measurement | database | wallets | per second | p50 ms | p99 ms | worker CPU ms each |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result.loads:
        cpu = f"{r.cpu.workers / r.completed * 1000:,.2f}" if r.cpu is not None else ""
        lines.append(
            f"| {r.name} | {r.database} | {r.concurrency} | {r.per_second:,.1f} "
            f"| {r.percentile(0.5):,.1f} | {r.percentile(0.99):,.1f} | {cpu} |"
        )
    lines.append("")
    for database in dict.fromkeys(r.database for r in result.loads):
        for concurrency in dict.fromkeys(r.concurrency for r in result.loads):
            pair = {
                r.name: r
                for r in result.loads
                if r.database == database and r.concurrency == concurrency and r.cpu
            }
            haip, pre = pair.get(AUTHORIZATION_CODE), pair.get(PRE_AUTHORIZED)
            if haip is None or pre is None or haip.cpu is None or pre.cpu is None:
                continue
            ratio = (haip.cpu.workers / haip.completed) / (pre.cpu.workers / pre.completed)
            met = "met" if ratio <= CPU_TARGET else "not met"
            lines.append(
                f"- {database}, {concurrency} wallets: an authorization-code issuance costs the "
                f"worker {ratio:.2f}× the CPU of a pre-authorized one (target at most "
                f"{CPU_TARGET:.0f}×: {met}); {haip.per_second:,.1f} against "
                f"{pre.per_second:,.1f} issuances per second."
            )
    return lines
