"""Write load for crash and outage tests: clients that run issuance chains (offer, token,
nonce, credential, sometimes a revocation) and counter requests against a node over
HTTP, keeping a ledger of every write the node acknowledged, to be found in the database
afterwards. A node that goes away mid-chain (connection lost, or 503 while its database
is away) makes the client start a fresh chain once it answers again."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import text

from core.encoding import b64url_decode
from core.keys.signer import SoftwareSigner
from core.storage.engine import create_engine
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.wallet import PRE_AUTHORIZED_GRANT, proof
from tests.support.postgres import run_in_thread


def operator_headers(var_dir: Path, tenant: str) -> dict[str, str]:
    keys = json.loads((var_dir / "operator-keys.json").read_text())
    return {"Authorization": f"Bearer {keys[tenant]}"}


def offer_national_id(http: httpx.Client, var_dir: Path, subject: str) -> dict[str, Any]:
    """An agency clerk's offer of the national ID to ``subject``, as the operator API
    answers it (``offer_uri`` and the rest)."""
    created = http.post(
        "/issuers/civil-registry/offers",
        json={
            "subject_id": subject,
            "credential_configuration_id": "national_id",
            "claims": CITIZEN,
        },
        headers=operator_headers(var_dir, "civil-registry"),
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


class Unavailable(Exception):
    """503 with Retry-After: the node is up, its database is not."""


class Refused(AssertionError):
    """The node answered a write of a well-formed chain with an error."""


@dataclass
class Ledger:
    """What the server acknowledged, by kind, and every status code seen."""

    offers: list[str] = field(default_factory=list)
    redeemed: list[str] = field(default_factory=list)
    credentials: list[tuple[str, int]] = field(default_factory=list)
    revoked: list[tuple[str, int]] = field(default_factory=list)
    transactions: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def writes(self) -> int:
        return sum(
            map(
                len, (self.offers, self.redeemed, self.credentials, self.revoked, self.transactions)
            )
        )


class Client:
    """One writer: issuance chains (offer, token, credential, sometimes a revocation) and
    counter requests, the chain started over when the node goes away under it."""

    def __init__(self, base_url: str, var_dir: Path, ledger: Ledger, seed: int) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.issuer = operator_headers(var_dir, "civil-registry")
        self.counter = operator_headers(var_dir, "bar-age-check")
        self.ledger, self.random = ledger, random.Random(seed)

    def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._checked(path, self.http.post(path, **kwargs))

    def _checked(self, path: str, response: httpx.Response) -> httpx.Response:
        with self.ledger.lock:
            self.ledger.statuses[response.status_code] += 1
        if response.status_code == 503:
            assert response.headers.get("Retry-After"), "a 503 without Retry-After"
            raise Unavailable(path)
        if not response.is_success:
            raise Refused(f"{path}: {response.status_code} {response.text[:300]}")
        return response

    def chain(self, n: int) -> None:
        created = self._post(
            "/issuers/civil-registry/offers",
            json={
                "subject_id": f"f07-{n}",
                "credential_configuration_id": "national_id",
                "claims": CITIZEN,
            },
            headers=self.issuer,
        )
        self.ledger.offers.append(created.json()["offer_id"])
        reference = parse_qs(urlsplit(created.json()["offer_uri"]).query)["credential_offer_uri"]
        offer_path = urlsplit(reference[0]).path
        offer = self._checked(offer_path, self.http.get(offer_path)).json()
        token = self._post(
            "/issuers/civil-registry/token",
            data={
                "grant_type": PRE_AUTHORIZED_GRANT,
                "pre-authorized_code": offer["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"],
            },
        )
        self.ledger.redeemed.append(created.json()["offer_id"])
        nonce = self._post("/issuers/civil-registry/nonce").json()["c_nonce"]
        holder = SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))
        issued = self._post(
            "/issuers/civil-registry/credential",
            json={
                "credential_configuration_id": "national_id",
                "proofs": {"jwt": [proof(holder, offer["credential_issuer"], nonce)]},
            },
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        credential = issued.json()["credentials"][0]["credential"]
        status = json.loads(b64url_decode(credential.split(".")[1]))["status"]["status_list"]
        place = (urlsplit(status["uri"]).path.rsplit("/", 1)[1], int(status["idx"]))
        self.ledger.credentials.append(place)
        if self.random.random() < 0.4:
            self._post(
                "/issuers/civil-registry/credentials/revoke",
                json={"status_uri": status["uri"], "status_idx": status["idx"], "reason": "F07"},
                headers=self.issuer,
            )
            self.ledger.revoked.append(place)
        asked = self._post(
            "/verifiers/bar-age-check/presentations",
            json={"template": "age_over_18"},
            headers=self.counter,
        )
        self.ledger.transactions.append(asked.json()["transaction_id"])


def write_until(
    base_url: str, var_dir: Path, ledger: Ledger, clients: int, enough: Callable[[], bool]
) -> tuple[list[threading.Thread], list[BaseException], threading.Event]:
    """Start ``clients`` writers; they stop once ``enough()`` or the returned event is set.
    A writer that sees anything but success, a lost connection or a 503 records it in
    the returned failures and sets the event."""
    done = threading.Event()
    failures: list[BaseException] = []
    chains = iter(range(10**9))
    chains_lock = threading.Lock()

    def write(seed: int) -> None:
        client = Client(base_url, var_dir, ledger, seed)
        while not done.is_set() and not enough():
            with chains_lock:
                n = next(chains)
            try:
                client.chain(n)
            except (httpx.TransportError, Unavailable):
                time.sleep(0.2)  # the node or its database is away: a fresh chain later
            except BaseException as exc:
                failures.append(exc)
                done.set()

    writers = [threading.Thread(target=write, args=(seed,), daemon=True) for seed in range(clients)]
    for writer in writers:
        writer.start()
    return writers, failures, done


def assert_ledger_in_database(url: str, ledger: Ledger) -> None:
    """Every acknowledged write is in the database, as acknowledged."""

    async def read() -> tuple[dict[str, str], dict[tuple[str, int], int], set[str]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as db:
                offers = {
                    r[0]: r[1]
                    for r in await db.execute(text("SELECT offer_id, state FROM issuer_offers"))
                }
                credentials = {
                    (r[0], r[1]): r[2]
                    for r in await db.execute(
                        text("SELECT status_list_id, status_index, status FROM issuer_credentials")
                    )
                }
                transactions = {
                    r[0]
                    for r in await db.execute(
                        text("SELECT transaction_id FROM verifier_transactions")
                    )
                }
        finally:
            await engine.dispose()
        return offers, credentials, transactions

    offers, credentials, transactions = run_in_thread(read())
    assert set(ledger.offers) <= set(offers)
    assert all(offers[o] == "redeemed" for o in ledger.redeemed)
    assert set(ledger.credentials) <= set(credentials)
    assert all(credentials[place] == 1 for place in ledger.revoked)
    assert set(ledger.transactions) <= transactions
