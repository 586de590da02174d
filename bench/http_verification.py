"""Verification over HTTP on loopback: a real ``idwallet serve`` with one worker (pinned to
one CPU), and a bounded load generator on the other CPU driving complete verifications
(the counter creates a request for the 4-claim ``identity`` check, the wallet fetches the
signed request object and posts a presentation of 4 claims with a fresh KB-JWT by
``direct_post``) at 1 and 64 concurrent wallets, beside ``GET /health`` of the same server.
Credentials are issued, the Disclosures to show chosen, and the status list fetched once,
before the clock starts."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from bench.http_client import Connection
from bench.http_issuance import (
    GRANT,
    LoadResult,
    _create_offers,
    _drive,
    _proof,
    run_on_fresh_servers,
)
from core.encoding import b64url_decode, strict_json_object
from core.jose.jwe import encrypt_compact
from core.keys.signer import SoftwareSigner
from core.sdjwt.key_binding import KeyBindingRequest, bind
from core.sdjwt.present import present

VERIFIER = "city-hall-counter"
CLAIMS = [("given_name",), ("family_name",), ("birthdate",), ("nationality",)]


async def issue_credential(
    client: httpx.AsyncClient, audience: str, code: str, holder: SoftwareSigner
) -> str:
    token = await client.post(
        "/issuers/civil-registry/token",
        data={"grant_type": GRANT, "pre-authorized_code": code},
    )
    access = token.json()["access_token"]
    nonce = (await client.post("/issuers/civil-registry/nonce")).json()["c_nonce"]
    response = await client.post(
        "/issuers/civil-registry/credential",
        json={
            "credential_configuration_id": "national_id",
            "proofs": {"jwt": [_proof(holder, audience, nonce)]},
        },
        headers={"Authorization": f"Bearer {access}"},
    )
    credential: str = response.json()["credentials"][0]["credential"]
    return credential


def _payload(jwt: str) -> dict[str, object]:
    return strict_json_object(b64url_decode(jwt.split(".")[1]), max_bytes=len(jwt))


async def _verify(
    connection: Connection, counter_key: str, shown: str, holder: SoftwareSigner
) -> None:
    """``shown``: the credential with only the 4 claims' Disclosures, chosen before the clock
    starts (the wallet's choice is not what is measured); the KB-JWT is signed fresh."""
    created = await connection.post_json(
        f"/verifiers/{VERIFIER}/presentations",
        {"template": "identity"},
        headers={"Authorization": f"Bearer {counter_key}"},
    )
    if created.status != 201:
        raise RuntimeError(f"request failed: {created.body[:200]!r}")
    await answer_request(connection, created.json()["request_uri"], shown, holder)


def _encrypted(request: dict[str, object], parameters: dict[str, object]) -> str:
    """OpenID4VP 1.0 §8.3: ``parameters`` as a JWE to the request's own key (its
    ``client_metadata.jwks``, ECDH-ES on P-256, the key's ``kid``), A256GCM as HAIP 1.0 §5
    has a wallet prefer when the verifier lists it."""
    metadata = request["client_metadata"]
    assert isinstance(metadata, dict)
    [key] = metadata["jwks"]["keys"]
    listed = metadata.get("encrypted_response_enc_values_supported", ["A128GCM"])
    return encrypt_compact(
        json.dumps(parameters).encode("utf-8"),
        key,
        enc="A256GCM" if "A256GCM" in listed else "A128GCM",
        kid=key["kid"],
    )


async def answer_request(
    connection: Connection, request_uri: str, shown: str, holder: SoftwareSigner
) -> None:
    """The wallet's part: the signed request object fetched, the presentation of ``shown``
    with a fresh KB-JWT posted by ``direct_post``, or as a JWE by ``direct_post.jwt`` where
    the request asks for it (the agencies' identity checks, HAIP 1.0 §5.1)."""
    fetched = await connection.get(urlsplit(request_uri).path)
    request = _payload(fetched.body.decode())
    client_id, nonce, state = request["client_id"], request["nonce"], request["state"]
    assert isinstance(client_id, str) and isinstance(nonce, str) and isinstance(state, str)
    answer = bind(shown, KeyBindingRequest(client_id, nonce, int(time.time())), holder)
    response_uri = request["response_uri"]
    assert isinstance(response_uri, str)
    if request["response_mode"] == "direct_post.jwt":
        parameters: dict[str, object] = {"vp_token": {"national_id": [answer]}, "state": state}
        form = {"response": _encrypted(request, parameters)}
    else:
        form = {"vp_token": json.dumps({"national_id": [answer]}), "state": state}
    response = await connection.request(
        "POST",
        urlsplit(response_uri).path,
        body=urlencode(form).encode("ascii"),
        content_type="application/x-www-form-urlencoded",
    )
    if response.status != 200:
        raise RuntimeError(f"verification failed: {response.body[:300]!r}")


async def measure_verifications(
    base: str, var_dir: Path, database: str, concurrency: int, count: int
) -> list[LoadResult]:
    keys = json.loads((var_dir / "operator-keys.json").read_text())
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        audience = (
            await client.get("/.well-known/openid-credential-issuer/issuers/civil-registry")
        ).json()["credential_issuer"]
        codes = await _create_offers(client, keys["civil-registry"], concurrency)
        holders = [
            SoftwareSigner(ec.generate_private_key(ec.SECP256R1())) for _ in range(concurrency)
        ]
        credentials = [
            present(await issue_credential(client, audience, code, holder), CLAIMS).sd_jwt
            for code, holder in zip(codes, holders, strict=True)
        ]
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
            "complete verification (request + request object + direct_post)",
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


def run(databases: dict[str, str | None], *, count: int = 300) -> list[LoadResult]:
    return run_on_fresh_servers(
        databases, measure_verifications, concurrencies=(1, 64), count=count
    )
