"""Verification over HTTP on loopback: a real ``idwallet serve`` with one worker (pinned to
one CPU), and a bounded load generator on the other CPU driving complete verifications at
1 and 64 concurrent wallets, beside ``GET /health`` of the same server.

A complete verification: the counter creates a request for the 4-claim ``identity``
check, which takes the national ID as an SD-JWT VC or as the PID mdoc
(``credential_sets``); the wallet fetches the signed request object and posts by
``direct_post`` (or ``direct_post.jwt``, encrypted, where the request asks for it) either
a presentation of the SD-JWT VC with 4 Disclosures and a fresh KB-JWT (query
``national_id``), or a fresh ``DeviceResponse`` of the PID mdoc with the 4 elements,
its ``deviceSignature`` over the request's own ``SessionTranscript`` (OpenID4VP 1.0
Appendix B.2; query ``national_id_mdoc``). The two formats take turns in the same run on
the same server (``drive_each``), so a slow spell of a shared machine hits them alike,
and the worker's CPU time per verification is read from ``/proc``. Credentials of both
formats are issued (the mdocs decoded), the Disclosures to show chosen, and both status
lists fetched once, before the clock starts.

Run by ``make bench``, or alone with ``python -m bench.http_verification`` (it rewrites
its own section of ``docs/benchmarks.md``; ``--quick`` runs fewer verifications on SQLite
only and writes nothing)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from bench.cpu_time import CpuWatch
from bench.http_client import Connection
from bench.http_haip_issuance import drive_each, run_with_wallet_providers
from bench.http_issuance import (
    GRANT,
    HEALTH,
    LoadResult,
    _create_offers,
    _drive,
    _proof,
    throughput_summary,
)
from bench.sections import splice_section
from core.encoding import b64url_decode, strict_json_object
from core.jose.jwe import encrypt_compact
from core.keys.signer import SoftwareSigner
from core.mdoc import IssuerSigned, decode_issuer_signed, present_mdoc, to_vp_token_element
from core.mdoc import openid4vp_session_transcript as session_transcript
from core.sdjwt.key_binding import KeyBindingRequest, bind
from core.sdjwt.present import present

VERIFIER = "city-hall-counter"
TEMPLATE = "identity"
CLAIMS = [("given_name",), ("family_name",), ("birthdate",), ("nationality",)]
#: The PID mdoc (``national_id_mdoc``) and the same 4 claims as its elements.
PID = "eu.europa.ec.eudi.pid.1"
ELEMENTS = {PID: ("given_name", "family_name", "birth_date", "nationality")}
#: The template's Credential Query ids, one per format.
SD_JWT_QUERY, MDOC_QUERY = "national_id", "national_id_mdoc"

SD_JWT = "complete verification, SD-JWT VC (request + request object + direct_post)"
MDOC = "complete verification, mdoc DeviceResponse (request + request object + direct_post)"
#: What the section's summary calls each measured row.
PLURALS = {SD_JWT: "SD-JWT VC verifications", MDOC: "mdoc verifications"}
HEADING = "## Verification over HTTP"
OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


async def issue_credential(
    client: httpx.AsyncClient,
    audience: str,
    code: str,
    holder: SoftwareSigner,
    *,
    configuration: str = "national_id",
) -> str:
    """The civil registry's credential of ``configuration`` for a pre-authorized ``code``,
    bound to ``holder``: an SD-JWT VC, or for ``national_id_mdoc`` an ``IssuerSigned``
    (base64url)."""
    token = await client.post(
        "/issuers/civil-registry/token",
        data={"grant_type": GRANT, "pre-authorized_code": code},
    )
    access = token.json()["access_token"]
    nonce = (await client.post("/issuers/civil-registry/nonce")).json()["c_nonce"]
    response = await client.post(
        "/issuers/civil-registry/credential",
        json={
            "credential_configuration_id": configuration,
            "proofs": {"jwt": [_proof(holder, audience, nonce)]},
        },
        headers={"Authorization": f"Bearer {access}"},
    )
    if response.status_code != 200:
        raise RuntimeError(f"issuance of {configuration} failed: {response.text[:300]}")
    credential: str = response.json()["credentials"][0]["credential"]
    return credential


def _payload(jwt: str) -> dict[str, object]:
    return strict_json_object(b64url_decode(jwt.split(".")[1]), max_bytes=len(jwt))


async def _verify(
    connection: Connection, counter_key: str, shown: str, holder: SoftwareSigner
) -> None:
    """``shown``: the credential with only the 4 claims' Disclosures, chosen before the clock
    starts (the wallet's choice is not what is measured); the KB-JWT is signed fresh."""
    await answer_request(connection, await _create_request(connection, counter_key), shown, holder)


async def _create_request(connection: Connection, counter_key: str) -> str:
    """The counter's part: a request for the ``identity`` check; its ``request_uri``."""
    created = await connection.post_json(
        f"/verifiers/{VERIFIER}/presentations",
        {"template": TEMPLATE},
        headers={"Authorization": f"Bearer {counter_key}"},
    )
    if created.status != 201:
        raise RuntimeError(f"request failed: {created.body[:200]!r}")
    request_uri: str = created.json()["request_uri"]
    return request_uri


def _encryption_key(request: Mapping[str, object]) -> dict[str, Any]:
    """The request's own key for ``direct_post.jwt`` (its ``client_metadata.jwks``)."""
    metadata = request["client_metadata"]
    assert isinstance(metadata, dict)
    [key] = metadata["jwks"]["keys"]
    assert isinstance(key, dict)
    return key


def _encrypted(request: dict[str, object], parameters: dict[str, object]) -> str:
    """OpenID4VP 1.0 §8.3: ``parameters`` as a JWE to the request's own key (its
    ``client_metadata.jwks``, ECDH-ES on P-256, the key's ``kid``), A256GCM as HAIP 1.0 §5
    has a wallet prefer when the verifier lists it."""
    metadata = request["client_metadata"]
    assert isinstance(metadata, dict)
    key = _encryption_key(request)
    listed = metadata.get("encrypted_response_enc_values_supported", ["A128GCM"])
    return encrypt_compact(
        json.dumps(parameters).encode("utf-8"),
        key,
        enc="A256GCM" if "A256GCM" in listed else "A128GCM",
        kid=key["kid"],
    )


#: The wallet's answer to a request object: its ``vp_token`` (query id → presentations).
Answer = Callable[[dict[str, object]], dict[str, list[str]]]


async def _answer(connection: Connection, request_uri: str, vp_token: Answer) -> None:
    """The wallet's part: the signed request object fetched, ``vp_token(request)`` posted
    by ``direct_post``, or as a JWE by ``direct_post.jwt`` where the request asks for it
    (the agencies' identity checks, HAIP 1.0 §5.1); 200 expected."""
    fetched = await connection.get(urlsplit(request_uri).path)
    request = _payload(fetched.body.decode())
    state, response_uri = request["state"], request["response_uri"]
    assert isinstance(state, str) and isinstance(response_uri, str)
    token = vp_token(request)
    if request["response_mode"] == "direct_post.jwt":
        parameters: dict[str, object] = {"vp_token": token, "state": state}
        form = {"response": _encrypted(request, parameters)}
    else:
        form = {"vp_token": json.dumps(token), "state": state}
    response = await connection.request(
        "POST",
        urlsplit(response_uri).path,
        body=urlencode(form).encode("ascii"),
        content_type="application/x-www-form-urlencoded",
    )
    if response.status != 200:
        raise RuntimeError(f"verification failed: {response.body[:300]!r}")


def _request_strings(request: Mapping[str, object]) -> tuple[str, str, str]:
    client_id, nonce, response_uri = request["client_id"], request["nonce"], request["response_uri"]
    assert isinstance(client_id, str) and isinstance(nonce, str)
    assert isinstance(response_uri, str)
    return client_id, nonce, response_uri


async def answer_request(
    connection: Connection, request_uri: str, shown: str, holder: SoftwareSigner
) -> None:
    """The wallet answers with the SD-JWT VC ``shown`` (its Disclosures already chosen)
    and a fresh KB-JWT, as the ``national_id`` query."""

    def vp_token(request: dict[str, object]) -> dict[str, list[str]]:
        client_id, nonce, _ = _request_strings(request)
        answer = bind(shown, KeyBindingRequest(client_id, nonce, int(time.time())), holder)
        return {SD_JWT_QUERY: [answer]}

    await _answer(connection, request_uri, vp_token)


@dataclass(frozen=True)
class HeldMdoc:
    """A PID mdoc as the wallet keeps it: decoded once on receipt, and its device key."""

    issuer_signed: IssuerSigned
    device_key: SoftwareSigner


async def answer_request_with_mdoc(
    connection: Connection, request_uri: str, held: HeldMdoc
) -> None:
    """The wallet answers with a fresh ``DeviceResponse`` of the PID mdoc (the 4 elements),
    as the ``national_id_mdoc`` query: ``deviceSignature`` over the ``SessionTranscript``
    of this request (B.2.6.1: its ``client_id`` with the prefix, ``nonce``,
    ``response_uri``, and for ``direct_post.jwt`` the key the response is encrypted to)."""

    def vp_token(request: dict[str, object]) -> dict[str, list[str]]:
        client_id, nonce, response_uri = _request_strings(request)
        encrypted = request["response_mode"] == "direct_post.jwt"
        transcript = session_transcript(
            client_id=client_id,
            nonce=nonce,
            response_uri=response_uri,
            encryption_jwk=_encryption_key(request) if encrypted else None,
        )
        response = present_mdoc(
            held.issuer_signed,
            disclose=ELEMENTS,
            session_transcript=transcript,
            device_signer=held.device_key,
            doc_type=PID,
        )
        return {MDOC_QUERY: [to_vp_token_element(response)]}

    await _answer(connection, request_uri, vp_token)


def _new_holders(count: int) -> list[SoftwareSigner]:
    return [SoftwareSigner(ec.generate_private_key(ec.SECP256R1())) for _ in range(count)]


async def _issue_all(
    base: str, keys: dict[str, str], concurrency: int, *, mdoc: bool
) -> tuple[list[str], list[SoftwareSigner], list[HeldMdoc]]:
    """One SD-JWT VC (cut down to the 4 claims) per wallet, and with ``mdoc`` one PID mdoc
    (decoded) per wallet, each bound to a key of its own."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        audience = (
            await client.get("/.well-known/openid-credential-issuer/issuers/civil-registry")
        ).json()["credential_issuer"]
        codes = await _create_offers(client, keys["civil-registry"], concurrency)
        holders = _new_holders(concurrency)
        credentials = [
            present(await issue_credential(client, audience, code, holder), CLAIMS).sd_jwt
            for code, holder in zip(codes, holders, strict=True)
        ]
        mdocs: list[HeldMdoc] = []
        if mdoc:
            codes = await _create_offers(
                client, keys["civil-registry"], concurrency, configuration=MDOC_QUERY
            )
            for code, device_key in zip(codes, _new_holders(concurrency), strict=True):
                issued = await issue_credential(
                    client, audience, code, device_key, configuration=MDOC_QUERY
                )
                mdocs.append(HeldMdoc(decode_issuer_signed(issued), device_key))
    return credentials, holders, mdocs


async def measure_verifications(
    base: str, var_dir: Path, database: str, concurrency: int, count: int
) -> list[LoadResult]:
    """SD-JWT VC verifications alone, then the trivial endpoint (the capacity mixes' own
    measure: the CPU watch, if any, is the caller's)."""
    keys = json.loads((var_dir / "operator-keys.json").read_text())
    credentials, holders, _ = await _issue_all(base, keys, concurrency, mdoc=False)
    connections = [Connection(base) for _ in range(concurrency)]

    async def verification(connection: Connection, index: int) -> None:
        wallet = index % concurrency
        await _verify(connection, keys[VERIFIER], credentials[wallet], holders[wallet])

    async def health(connection: Connection, _: int) -> None:
        if (await connection.get("/health")).status != 200:
            raise RuntimeError("health failed")

    try:
        await _drive(concurrency * 2, connections, health)  # open and warm the connections
        await _drive(1, connections[:1], verification)  # the status list, fetched and cached
        measured = await _drive(count, connections, verification)
        trivial = await _drive(count * 10, connections, health)
    finally:
        for connection in connections:
            await connection.close()
    return [
        LoadResult(
            SD_JWT,
            database,
            concurrency,
            count,
            measured.seconds,
            measured.latencies,
            cpu=measured.cpu,
        ),
        LoadResult(HEALTH, database, concurrency, count * 10, trivial.seconds, trivial.latencies),
    ]


#: Turns the SD-JWT VC and the mdoc verifications take in one run.
ROUNDS = 3


async def measure_both(
    base: str, var_dir: Path, database: str, concurrency: int, count: int, watch: CpuWatch
) -> list[LoadResult]:
    """SD-JWT VC and mdoc verifications, ``count`` each, taking turns on the same server
    and connections; then the trivial endpoint. Both status lists are fetched before."""
    keys = json.loads((var_dir / "operator-keys.json").read_text())
    credentials, holders, mdocs = await _issue_all(base, keys, concurrency, mdoc=True)
    counter_key = keys[VERIFIER]

    async def sd_jwt(connection: Connection, index: int) -> None:
        wallet = index % concurrency
        await _verify(connection, counter_key, credentials[wallet], holders[wallet])

    async def mdoc(connection: Connection, index: int) -> None:
        request_uri = await _create_request(connection, counter_key)
        await answer_request_with_mdoc(connection, request_uri, mdocs[index % concurrency])

    async def both(connection: Connection, index: int) -> None:
        await sd_jwt(connection, index)
        await mdoc(connection, index)

    return await drive_each(
        [Connection(base) for _ in range(concurrency)],
        database,
        ((SD_JWT, sd_jwt, count), (MDOC, mdoc, count)),
        watch=watch,
        health_times=count * 10,
        warm_up=both,  # each format's status list, fetched and cached
        rounds=ROUNDS,
    )


def run(
    databases: dict[str, str | None],
    *,
    concurrencies: tuple[int, ...] = (1, 64),
    count: int = 300,
    database_name: str = "idwallet_bench",
) -> list[LoadResult]:
    # no development authenticator and no wallet provider asked for: the trusted wallet
    # providers run_with_wallet_providers adds are not used here
    return run_with_wallet_providers(
        databases,
        measure_both,
        concurrencies=concurrencies,
        count=count,
        env={},
        database_name=database_name,
    )


def _cpu_ms(result: LoadResult) -> float | None:
    return None if result.cpu is None else result.cpu.workers / result.completed * 1000


def table(results: list[LoadResult]) -> list[str]:
    """The measurements with the worker's CPU per operation."""
    lines = [
        "| measurement | database | wallets | per second | p50 ms | p99 ms | worker CPU ms each |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        cpu = _cpu_ms(r)
        shown = "" if cpu is None else f"{cpu:,.2f}"
        lines.append(
            f"| {r.name} | {r.database} | {r.concurrency} | {r.per_second:,.1f} "
            f"| {r.percentile(0.5):,.1f} | {r.percentile(0.99):,.1f} | {shown} |"
        )
    return lines


def comparison(results: list[LoadResult]) -> list[str]:
    """Per database and concurrency: mdoc beside SD-JWT VC, per second and in worker CPU."""
    lines: list[str] = []
    for database in dict.fromkeys(r.database for r in results):
        for concurrency in dict.fromkeys(r.concurrency for r in results):
            rows = {
                r.name: r
                for r in results
                if r.database == database and r.concurrency == concurrency
            }
            sd_jwt, mdoc = rows.get(SD_JWT), rows.get(MDOC)
            if sd_jwt is None or mdoc is None:
                continue
            line = (
                f"- {database}, {concurrency} {'wallet' if concurrency == 1 else 'wallets'}: "
                f"mdoc {mdoc.per_second:,.1f} against SD-JWT VC {sd_jwt.per_second:,.1f} "
                f"verifications per second per worker "
                f"({mdoc.per_second / sd_jwt.per_second:.2f}×)"
            )
            mdoc_cpu, sd_jwt_cpu = _cpu_ms(mdoc), _cpu_ms(sd_jwt)
            if mdoc_cpu and sd_jwt_cpu:
                line += (
                    f"; worker CPU {mdoc_cpu:.2f} ms against {sd_jwt_cpu:.2f} ms per "
                    f"verification, {1000 / mdoc_cpu:,.0f} against {1000 / sd_jwt_cpu:,.0f} "
                    "per second on a core of its own"
                )
            lines.append(line + ".")
    return lines


def section(results: list[LoadResult]) -> list[str]:
    """The ``Verification over HTTP`` section of ``docs/benchmarks.md``."""
    return [
        HEADING,
        "",
        "The same set-up. A complete verification is what a counter and a wallet do for one",
        "citizen: the counter creates a request for the 4-claim `identity` check, which takes",
        "the national ID as an SD-JWT VC or as the PID mdoc (`eu.europa.ec.eudi.pid.1`,",
        "`credential_sets`); the wallet fetches the signed request object and posts by",
        "`direct_post` either a presentation of the SD-JWT VC with 4 Disclosures and a fresh",
        "KB-JWT, or a fresh `DeviceResponse` of the PID mdoc with the 4 elements and its",
        "`deviceSignature` over the request's own `SessionTranscript` (OpenID4VP 1.0",
        "Appendix B.2). The verifier checks the issuer's chain (`x5c` or `x5chain`) and",
        "signature; for the SD-JWT VC every RFC 9901 check and key binding with its freshness,",
        "for the mdoc strict CBOR, the structure, docType, every digest, the validity window",
        "and DeviceAuth over the transcript it builds itself; for both the status list",
        "(revalidated every 10 s) and DCQL satisfaction before it answers 200. The two formats",
        "take turns three times in the same run on the same server, so that a slow spell of",
        "the machine hits them alike; the worker's CPU time per verification is read from",
        "`/proc` (on a machine shared with other work, the steadier of the two comparisons).",
        "Credentials of both formats are issued (the mdocs decoded), the Disclosures",
        "to show chosen, and both formats' status lists fetched, before the clock starts; the",
        "KB-JWT and the `DeviceResponse` are made for each verification.",
        "",
        *table(results),
        "",
        *comparison(results),
        *throughput_summary(results, PLURALS, round_trips=None),
    ]


def main() -> int:
    """This benchmark alone (``python -m bench.http_verification``): SQLite and, where it
    answers, PostgreSQL (``IDWALLET_BENCH_POSTGRES_URL``) in a database of its own, so that
    it can run beside a ``make bench``; prints its section and writes it into
    ``docs/benchmarks.md``. ``--quick``: SQLite, fewer verifications, nothing written."""
    from tests.support.postgres import reachable

    parser = argparse.ArgumentParser(prog="python -m bench.http_verification")
    parser.add_argument("--quick", action="store_true", help="a short run; writes nothing")
    quick = parser.parse_args().quick
    databases: dict[str, str | None] = {"SQLite": None}
    postgres = os.environ.get(
        "IDWALLET_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    why_not = None if quick else reachable(postgres)
    if not quick and why_not is None:
        databases["PostgreSQL"] = postgres
    load_before = os.getloadavg()
    if quick:
        results = run(databases, concurrencies=(1, 16), count=60)
    else:
        results = run(databases, database_name="idwallet_bench_verification")
    lines = section(results)
    print("\n".join(lines))
    if why_not is not None:
        print(f"PostgreSQL was not measured: {why_not}")
    print(f"load average (1, 5, 15 min) before: {load_before}, after: {os.getloadavg()}")
    if not quick:
        document = OUTPUT.read_text(encoding="utf-8")
        following = "## Presentations through the citizen mobile API"
        OUTPUT.write_text(splice_section(document, lines, before=following), encoding="utf-8")
        print(f"wrote its section into {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
