"""The single-use rules of the authorization code flow hold across the workers of a real
``idwallet serve --workers 2`` (SQLite and PostgreSQL): fifty exchanges of one code sent
at once over connections kept to both workers give one token, and that first token dies
with the reuse (RFC 6749 §4.1.2); a DPoP proof taken by one worker is refused by the
other (RFC 9449 §11.1)."""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.dpop import access_token_hash
from core.oauth import pkce_s256_challenge
from tests.conftest import migrated_database
from tests.support.dpop_proofs import make_proof
from tests.support.server import RunningServer, free_port, running_server
from tests.support.wallet_provider import (
    CLIENT_ID,
    WalletProvider,
    attestation_headers,
    new_instance,
)
from tests.support.workers import worker_of

WORKERS = 2
RACERS = 50
REDIRECT = "https://wallet.example.eu/cb"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
PROVIDER = WalletProvider()


def _server(var_dir: Path, database_url: str) -> Any:
    anchors = var_dir / "wallet-provider-root.pem"
    var_dir.mkdir(parents=True, exist_ok=True)
    anchors.write_bytes(PROVIDER.root.public_bytes(serialization.Encoding.PEM))
    port = free_port()
    return running_server(
        var_dir,
        IDWALLET_PORT=str(port),
        IDWALLET_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        IDWALLET_DATABASE_URL=migrated_database(database_url),
        IDWALLET_WORKERS=str(WORKERS),
        IDWALLET_WALLET_PROVIDER_ANCHORS=str(anchors),
        IDWALLET_TEST_CITIZEN="demo-citizen",
    )


def _pinned(server: RunningServer, per_worker: int) -> dict[int, list[httpx.Client]]:
    """``per_worker`` kept-alive connections to each worker (new connections until each
    worker took that many)."""
    port = int(server.base_url.rsplit(":", 1)[1])
    pinned: dict[int, list[httpx.Client]] = {}
    for _ in range(per_worker * WORKERS * 10):
        connection = httpx.Client(base_url=server.base_url, timeout=60)
        worker = worker_of(server.process.pid, port, connection.get("/health"))
        held = pinned.setdefault(worker, [])
        if len(held) < per_worker:
            held.append(connection)
        else:
            connection.close()
        if len(pinned) == WORKERS and all(len(c) == per_worker for c in pinned.values()):
            return pinned
    raise AssertionError(f"connections reached the workers {sorted(pinned)} too unevenly")


class Haip:
    """A wallet instance at the civil registry of a running server."""

    def __init__(self, server: RunningServer) -> None:
        self.issuer = f"{server.base_url}/issuers/civil-registry"
        self.instance = new_instance()
        self.key = ec.generate_private_key(ec.SECP256R1())

    def attested(self) -> dict[str, str]:
        return attestation_headers(
            PROVIDER, self.instance, audience=self.issuer, issued_at=time.time()
        )

    def proof(self, endpoint: str, nonce: str, access_token: str | None = None) -> str:
        claims = {"nonce": nonce}
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        return make_proof(
            self.key,
            htu=f"{self.issuer}/{endpoint}",
            iat=time.time(),
            jti=secrets.token_urlsafe(16),
            claims=claims,
        )

    def nonce(self, http: httpx.Client) -> str:
        nonce: str = http.post("/issuers/civil-registry/nonce").headers["dpop-nonce"]
        return nonce

    def code(self, http: httpx.Client) -> str:
        pushed = http.post(
            "/issuers/civil-registry/par",
            data={
                "response_type": "code",
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT,
                "code_challenge": pkce_s256_challenge(VERIFIER),
                "code_challenge_method": "S256",
                "scope": "national_id",
            },
            headers=self.attested(),
        )
        assert pushed.status_code == 201, pushed.text
        answer = http.get(
            "/issuers/civil-registry/authorize",
            params={"client_id": CLIENT_ID, "request_uri": pushed.json()["request_uri"]},
        )
        assert answer.status_code == 303, answer.text
        return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]

    def token_form(self, code: str) -> dict[str, str]:
        return {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
            "client_id": CLIENT_ID,
        }


def test_fifty_exchanges_of_one_code_across_two_workers_give_one_token_which_then_dies(
    var_dir: Path, database_url: str
) -> None:
    with _server(var_dir, database_url) as server:
        wallet = Haip(server)
        pinned = _pinned(server, RACERS // WORKERS)
        connections = [c for held in pinned.values() for c in held]
        try:
            first = connections[0]
            code = wallet.code(first)
            nonce = wallet.nonce(first)
            requests = [
                (c, {**wallet.attested(), "DPoP": wallet.proof("token", nonce)})
                for c in connections
            ]
            answers: list[httpx.Response | None] = [None] * len(requests)
            start = threading.Barrier(len(requests))

            def exchange(index: int) -> None:
                connection, headers = requests[index]
                start.wait()
                answers[index] = connection.post(
                    "/issuers/civil-registry/token", data=wallet.token_form(code), headers=headers
                )

            threads = [threading.Thread(target=exchange, args=(i,)) for i in range(len(requests))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            done = [a for a in answers if a is not None]
            assert len(done) == RACERS
            assert all(a.status_code < 500 for a in done), [a.text for a in done]
            won = [a for a in done if a.status_code == 200]
            assert len(won) == 1, [a.text for a in done if a.status_code != 400]
            assert {a.json()["error"] for a in done if a.status_code != 200} == {"invalid_grant"}
            token = won[0].json()["access_token"]
            # the reuse revoked what the first use gave: its token fetches nothing
            refused = first.post(
                "/issuers/civil-registry/credential",
                json={"credential_configuration_id": "national_id"},
                headers={
                    "Authorization": f"DPoP {token}",
                    "DPoP": wallet.proof("credential", wallet.nonce(first), token),
                },
            )
            assert refused.status_code == 401, refused.text
            assert refused.json()["error"] == "invalid_token"
        finally:
            for connection in connections:
                connection.close()


def test_a_dpop_proof_taken_by_one_worker_is_refused_by_the_other(
    var_dir: Path, database_url: str
) -> None:
    with _server(var_dir, database_url) as server:
        wallet = Haip(server)
        pinned = _pinned(server, 1)
        one, other = (held[0] for held in pinned.values())
        try:
            codes = [wallet.code(one), wallet.code(one)]
            proof = wallet.proof("token", wallet.nonce(one))
            taken = one.post(
                "/issuers/civil-registry/token",
                data=wallet.token_form(codes[0]),
                headers={**wallet.attested(), "DPoP": proof},
            )
            assert taken.status_code == 200, taken.text
            replayed = other.post(
                "/issuers/civil-registry/token",
                data=wallet.token_form(codes[1]),
                headers={**wallet.attested(), "DPoP": proof},
            )
            assert replayed.status_code == 400, replayed.text
            assert replayed.json()["error"] == "invalid_dpop_proof"
        finally:
            one.close()
            other.close()
