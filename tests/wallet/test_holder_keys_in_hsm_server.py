"""End to end through a real ``idwallet serve`` whose holder keys are in a PKCS#11 token
(SoftHSM2), configured only by its environment (``IDWALLET_KEY_PROVIDER_HOLDER=pkcs11``,
``IDWALLET_PKCS11_*``), on SQLite and PostgreSQL: a citizen's phone receives a national ID
with server-held keys, which the token made and the database keeps only wrapped; the
bar's counter verifies the citizen's age; the provider publishes the key storage level
the deployment states for its module; with the token pulled out, presenting answers 503
with ``Retry-After`` (never a server error) and works again once it is back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.serialization import load_der_private_key
from sqlalchemy import text

from core.keys.pkcs11_token import Pkcs11Config, Pkcs11Token
from core.storage.engine import create_engine
from tests.conftest import migrated_database
from tests.support.postgres import run_in_thread
from tests.support.server import free_port, running_server
from tests.support.softhsm import SoftHsm
from tests.support.write_load import offer_national_id, operator_headers
from tests.wallet.phone import Phone

COUNTER = "bar-age-check"


def _sealed_keys(database_url: str) -> list[bytes]:
    async def read() -> list[bytes]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text("SELECT sealed_private_key FROM wallet_holder_keys")
                )
                return [bytes(row[0]) for row in rows]
        finally:
            await engine.dispose()

    sealed: list[bytes] = run_in_thread(read())
    return sealed


def _ask_and_scan(http: httpx.Client, var_dir: Path, phone: Phone) -> tuple[str, str]:
    """The bar's request for ``age_over_18``, scanned: its transaction and presentation."""
    asked = http.post(
        f"/verifiers/{COUNTER}/presentations",
        json={"template": "age_over_18"},
        headers=operator_headers(var_dir, COUNTER),
    )
    assert asked.status_code == 201, asked.text
    scanned = phone.scan(asked.json()["uri"])
    assert scanned.status_code == 201, scanned.text
    return asked.json()["transaction_id"], scanned.json()["presentation"]["presentation_id"]


def _verdict(http: httpx.Client, var_dir: Path, transaction_id: str) -> str:
    status = http.get(
        f"/verifiers/{COUNTER}/presentations/{transaction_id}",
        headers=operator_headers(var_dir, COUNTER),
    )
    assert status.status_code == 200, status.text
    verdict: str = status.json()["status"]
    return verdict


def _until_back(attempt: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + 15
    while True:
        answer = attempt()
        if answer.status_code != 503 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_a_server_with_holder_keys_in_the_hsm_from_issuance_to_the_counter(
    var_dir: Path, database_url: str, softhsm: SoftHsm, hsm_token: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    database = migrated_database(database_url)
    with (
        running_server(
            var_dir,
            IDWALLET_PORT=str(port),
            IDWALLET_PUBLIC_BASE_URL=base,
            IDWALLET_DATABASE_URL=database,
            IDWALLET_KEY_PROVIDER_HOLDER="pkcs11",
            IDWALLET_PKCS11_MODULE=softhsm.module,
            IDWALLET_PKCS11_TOKEN=hsm_token,
            IDWALLET_PKCS11_PIN=softhsm.pin,
            IDWALLET_PKCS11_KEY_STORAGE="iso_18045_high",
            **softhsm.env(),
        ) as server,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        provider = http.get("/wallet/provider").json()
        assert provider["key_attestation_levels"]["server"] == {
            "key_storage": ["iso_18045_high"],
            "user_authentication": ["iso_18045_basic"],
        }
        phone = Phone(http)
        phone.register()
        offer = offer_national_id(http, var_dir, "citizen-in-hsm")
        assert phone.receive(offer["offer_uri"], custody="server")["status"] == "received"

        sealed = _sealed_keys(database)
        assert len(sealed) == 3
        for row in sealed:  # sealed, and under the seal no PKCS#8 either (the service tests)
            try:
                load_der_private_key(row, password=None)
            except ValueError:
                continue
            raise AssertionError("a holder key is in the database as a private key")
        token = Pkcs11Token(Pkcs11Config(softhsm.module, hsm_token, pin=softhsm.pin))
        assert token.count_objects() == 1  # the wrapping key; no object per holder key

        transaction_id, presentation_id = _ask_and_scan(http, var_dir, phone)
        assert phone.approve(presentation_id)["outcome"] == "accepted"
        assert _verdict(http, var_dir, transaction_id) == "verified"

        transaction_id, presentation_id = _ask_and_scan(http, var_dir, phone)
        approve = f"/wallet/presentations/{presentation_id}/approve"
        softhsm.remove(hsm_token)
        try:
            for _ in range(2):
                refused = phone.post(approve)
                assert refused.status_code == 503, refused.text
                assert int(refused.headers["retry-after"]) > 0
                assert refused.json()["error"] == "temporarily_unavailable"
            assert _verdict(http, var_dir, transaction_id) != "verified"
        finally:
            softhsm.restore(hsm_token)
        approved = _until_back(lambda: phone.post(approve))
        assert approved.status_code == 200, approved.text
        assert approved.json()["outcome"] == "accepted"
        assert _verdict(http, var_dir, transaction_id) == "verified"
    assert "Traceback" not in server.output, server.output
