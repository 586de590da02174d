"""Online issuance with a presentation during issuance, over HTTP: the transport agency
issues a driving licence through the authorization code flow at HAIP level after the
citizen's wallet showed the national ID (given name, family name, date of birth) to the
agency's identity-check counter. Beside it on the same server, in the same run, the two
flows it builds on: a complete verification at a counter (the 3-claim identification, a
request, its request object and a ``direct_post`` with a fresh KB-JWT) and the trivial
endpoint; the authorization-code issuance without a presentation is measured on its own
server by ``bench.http_haip_issuance`` (a development authenticator there stands in for
the citizen, which here would skip the presentation).

One ``idwallet serve`` worker pinned to one CPU, the load generator on the other. Per
issuance the wallet makes: the pushed request (wallet attestation + PoP, PKCE), the
authorization (the browser sent to the agency's page with its binding cookie), the page's
status (the request for the wallet), the request object and the presentation (KB-JWT),
the page's completion (the counter's verified result read, the register matched, the code
given), the token request (DPoP, fresh PoP), the nonce and the credential request. The
worker's CPU time per operation is read from ``/proc``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from bench.cpu_time import CpuWatch
from bench.http_client import Connection
from bench.http_haip_issuance import (
    HaipWallet,
    _expect,
    _providers,
    drive_each,
    run_with_wallet_providers,
)
from bench.http_issuance import (
    LoadResult,
    _create_offers,
)
from bench.http_verification import answer_request, issue_credential
from core.keys.signer import SoftwareSigner
from core.sdjwt.present import present
from tests.support.key_attestations import WalletProvider as KeyAttester
from tests.support.wallet_provider import WalletProvider

AGENCY = "transport-agency"
#: The agency's identity-check counter and the claims it asks for.
COUNTER = "transport-agency-id-check"
SHOWN = [("given_name",), ("family_name",), ("birthdate",)]
WITH_PRESENTATION = "complete issuance after a presentation of the national ID (10 requests)"
VERIFICATION = "complete verification (request + request object + direct_post)"
HEALTH = "GET /health"


class PresentingWallet(HaipWallet):
    """A HAIP wallet whose citizen proves who they are by showing the national ID this
    wallet holds (``shown``: its Disclosures of the three claims, chosen beforehand)."""

    def __init__(
        self,
        provider: WalletProvider,
        attester: KeyAttester,
        issuer: str,
        *,
        shown: str,
        presenter: SoftwareSigner,
    ) -> None:
        super().__init__(
            provider, attester, issuer, configuration="driving_licence", key_attested=False
        )
        self.shown, self.presenter = shown, presenter

    async def authorize(self, connection: Connection, query: str) -> str:
        sent = await connection.get(f"{self.path}/authorize?{query}")
        _expect(sent.status, 303, sent.body)
        page = urlsplit(sent.headers["location"]).path
        cookie = {"Cookie": sent.headers["set-cookie"].split(";", 1)[0]}
        status = await connection.get(f"{page}/status", headers=cookie)
        _expect(status.status, 200, status.body)
        wallet_uri = json.loads(status.body)["uri"]
        request_uri = parse_qs(urlsplit(wallet_uri).query)["request_uri"][0]
        await answer_request(connection, request_uri, self.shown, self.presenter)
        completed = await connection.get(f"{page}/complete", headers=cookie)
        _expect(completed.status, 303, completed.body)
        return parse_qs(urlsplit(completed.headers["location"]).query)["code"][0]


@dataclass(frozen=True)
class PresentationIssuanceResult:
    loads: list[LoadResult]


async def _measure(
    base: str, var_dir: Path, database: str, concurrency: int, count: int, watch: CpuWatch
) -> list[LoadResult]:
    provider, attester = _providers(var_dir)
    keys = json.loads((var_dir / "operator-keys.json").read_text())
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        civil = (
            await client.get("/.well-known/openid-credential-issuer/issuers/civil-registry")
        ).json()["credential_issuer"]
        issuer = f"{base}/issuers/{AGENCY}"
        codes = await _create_offers(client, keys["civil-registry"], concurrency * 2)
        presenters = [
            SoftwareSigner(ec.generate_private_key(ec.SECP256R1())) for _ in range(concurrency * 2)
        ]
        shown = [
            present(await issue_credential(client, civil, code, holder), SHOWN).sd_jwt
            for code, holder in zip(codes, presenters, strict=True)
        ]
        first_nonce = (await client.post(f"/issuers/{AGENCY}/nonce")).headers["dpop-nonce"]
    wallets = [
        PresentingWallet(
            provider,
            attester,
            issuer,
            shown=shown[i],
            presenter=presenters[i],
        )
        for i in range(concurrency)
    ]
    for wallet in wallets:
        wallet.dpop_nonce = first_nonce
    connections = [Connection(base) for _ in range(concurrency)]

    async def issuance(connection: Connection, index: int) -> None:
        await wallets[index % concurrency].issue(connection)

    async def verification(connection: Connection, index: int) -> None:
        wallet = concurrency + index % concurrency
        created = await connection.post_json(
            f"/verifiers/{COUNTER}/presentations",
            {"template": "identification"},
            headers={"Authorization": f"Bearer {keys[COUNTER]}"},
        )
        _expect(created.status, 201, created.body)
        await answer_request(
            connection, created.json()["request_uri"], shown[wallet], presenters[wallet]
        )

    return await drive_each(
        connections,
        database,
        ((WITH_PRESENTATION, issuance, count), (VERIFICATION, verification, count)),
        watch=watch,
        health_times=count * 5,
        warm_up=verification,  # the status list, fetched and cached
    )


def run(
    databases: dict[str, str | None], *, concurrencies: tuple[int, ...] = (1, 16), count: int = 100
) -> PresentationIssuanceResult:
    # no development authenticator: the agency asks for the presentation
    return PresentationIssuanceResult(
        run_with_wallet_providers(
            databases, _measure, concurrencies=concurrencies, count=count, env={}
        )
    )


def table(
    result: PresentationIssuanceResult, haip_cpu_ms: dict[tuple[str, int], float]
) -> list[str]:
    """The measurements, and per database and concurrency the issuance's worker CPU beside
    the two flows it builds on (``haip_cpu_ms``: the authorization-code issuance's, by
    database and wallets, from ``bench.http_haip_issuance`` of the same run)."""
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
    for r in result.loads:
        if r.name != WITH_PRESENTATION or r.cpu is None:
            continue
        mine = r.cpu.workers / r.completed * 1000
        verification = next(
            (
                v.cpu.workers / v.completed * 1000
                for v in result.loads
                if v.name == VERIFICATION
                and v.database == r.database
                and v.concurrency == r.concurrency
                and v.cpu is not None
            ),
            None,
        )
        haip = haip_cpu_ms.get((r.database, r.concurrency))
        if verification is None or haip is None:
            continue
        lines.append(
            f"- {r.database}, {r.concurrency} wallets: {mine:.2f} ms of worker CPU per issuance"
            f" with a presentation, against {haip:.2f} ms (authorization-code issuance) +"
            f" {verification:.2f} ms (verification) = {haip + verification:.2f} ms for the two"
            f" flows it builds on; {r.per_second:,.1f} issuances per second."
        )
    return lines
