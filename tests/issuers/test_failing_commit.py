"""A credential request whose COMMIT fails (a full disk, a constraint the database checks
only at commit) leaves nothing behind: no credential, the grant back, and no status-list
places in the process that later credentials could be put on. Before, the block of places
the failed transaction had reserved (on a list that transaction had opened) stayed in
memory, and the next credentials pointed at a status list that did not exist.

The COMMIT fails for real: a check the database runs only at commit (a deferred foreign
key on SQLite, a deferred constraint trigger on PostgreSQL) refuses credentials of one
subject."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from core.encoding import b64url_decode
from core.storage.engine import create_engine
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.issuers.wallet import Wallet, proof, read_offer
from tests.support.invariants import assert_invariants, count_rows
from tests.support.postgres import run_in_thread

DOOMED = "commit-fails"

SQLITE_GUARD = [
    "CREATE TABLE commit_guard_target (id INTEGER PRIMARY KEY)",
    "CREATE TABLE commit_guard (ref INTEGER REFERENCES commit_guard_target (id)"
    " DEFERRABLE INITIALLY DEFERRED)",
    f"CREATE TRIGGER commit_fails AFTER INSERT ON issuer_credentials"
    f" WHEN NEW.subject_id = '{DOOMED}' BEGIN INSERT INTO commit_guard (ref) VALUES (1); END",
]
SQLITE_UNGUARD = [
    "DROP TRIGGER IF EXISTS commit_fails",
    "DROP TABLE IF EXISTS commit_guard",
    "DROP TABLE IF EXISTS commit_guard_target",
]
POSTGRES_GUARD = [
    "CREATE OR REPLACE FUNCTION commit_guard() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'the commit is refused'; END $$",
    "CREATE CONSTRAINT TRIGGER commit_fails AFTER INSERT ON issuer_credentials"
    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
    f" WHEN (NEW.subject_id = '{DOOMED}') EXECUTE FUNCTION commit_guard()",
]
POSTGRES_UNGUARD = [
    "DROP TRIGGER IF EXISTS commit_fails ON issuer_credentials",
    "DROP FUNCTION IF EXISTS commit_guard()",
]


def _run(url: str, statements: list[str]) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    await connection.execute(text(statement))
        finally:
            await engine.dispose()

    run_in_thread(run())


@pytest.fixture
def guarded(client: TestClient[Any]) -> Iterator[str]:
    url = client.app.state.deployment.settings.database_url
    postgres = url.startswith("postgresql")
    _run(url, POSTGRES_GUARD if postgres else SQLITE_GUARD)
    try:
        yield url
    finally:
        _run(url, POSTGRES_UNGUARD if postgres else SQLITE_UNGUARD)


def test_a_failed_commit_leaves_no_status_list_places_behind(
    client: TestClient[Any], guarded: str
) -> None:
    wallet = Wallet(client)
    # The agency's first credential request: it opens the first status list and reserves
    # a block of places on it, and then its COMMIT fails.
    doomed = create_offer(client, "civil-registry", "national_id", CITIZEN, subject=DOOMED)
    offer = read_offer(client, doomed["offer_uri"])
    metadata = wallet.metadata(offer["credential_issuer"])
    access_token = wallet.token(offer).json()["access_token"]
    holder_proof = proof(wallet.new_holder(), offer["credential_issuer"], wallet.nonce(metadata))
    failed = wallet.credential(
        metadata,
        access_token,
        {"credential_configuration_id": "national_id", "proofs": {"jwt": [holder_proof]}},
    )
    assert failed.status_code >= 500, failed.text
    assert count_rows(guarded, "SELECT count(*) FROM issuer_credentials") == 0
    assert count_rows(guarded, "SELECT count(*) FROM issuer_status_lists") == 0

    # Later credentials of this process land on lists that exist and count them.
    for subject in ("citizen-1", "citizen-2", "citizen-3"):
        created = create_offer(client, "civil-registry", "national_id", CITIZEN, subject=subject)
        _, credentials, _ = wallet.receive(created["offer_uri"])
        status = _status_of(credentials[0])
        published = client.get(status["uri"].removeprefix(PUBLIC_BASE_URL))
        assert published.status_code == 200, status
    assert count_rows(guarded, "SELECT count(*) FROM issuer_credentials") == 3
    assert_invariants(guarded)


def _status_of(credential: str) -> dict[str, Any]:
    payload = json.loads(b64url_decode(credential.split("~", maxsplit=1)[0].split(".")[1]))
    status: dict[str, Any] = payload["status"]["status_list"]
    return status
