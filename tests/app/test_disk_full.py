"""A node whose database disk fills up: requests that write are answered 503 with the
condition named ("its disk is full"), never 500 and never "not reachable"; ``/ready``
fails so the load balancer takes the node out; nothing half-done is left; and once space
is back, the node is ready again and the interrupted work can be completed.

The disk is real: a small tmpfs mounted for the test (root only), holding the SQLite
database, filled up with a file."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.issuers.test_catalog import CITIZEN
from tests.issuers.wallet import Wallet, proof, read_offer
from tests.support.invariants import assert_invariants
from tests.support.server import free_port, running_server
from tests.support.write_load import offer_national_id, operator_headers
from tests.wallet.phone import Phone

DISK_SIZE = "24m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        message = f"cannot mount a tmpfs: {mounted.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@contextlib.contextmanager
def filled(disk: Path) -> Iterator[None]:
    """The disk full to the last byte while inside; the space back afterwards."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (1 << 20, 4096, 1):  # big blocks, then the last few bytes
            with contextlib.suppress(OSError):
                while True:
                    os.write(descriptor, b"\0" * chunk)
    finally:
        os.close(descriptor)
    try:
        yield
    finally:
        filler.unlink()


def _disk_full(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error"] == "temporarily_unavailable"
    assert "disk is full" in body["error_description"]
    assert response.headers["retry-after"]


def _ready_within(http: httpx.Client, seconds: float) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        ready = http.get("/ready")
        if ready.status_code == 200 or time.monotonic() > deadline:
            return ready
        time.sleep(0.5)


def test_a_full_database_disk_is_named_and_makes_the_node_not_ready(
    small_disk: Path, var_dir: Path
) -> None:
    url = f"sqlite+aiosqlite:///{small_disk / 'idwallet.db'}"
    port = free_port()
    with running_server(
        var_dir,
        IDWALLET_PORT=str(port),
        IDWALLET_DATABASE_URL=url,
        IDWALLET_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
    ) as server:
        http = httpx.Client(base_url=server.base_url, timeout=30)
        wallet = Wallet(http)  # type: ignore[arg-type]
        assert http.get("/ready").status_code == 200
        # One credential before the disk fills; a second citizen got as far as a token.
        wallet.receive(offer_national_id(http, var_dir, "citizen-1")["offer_uri"])
        created = offer_national_id(http, var_dir, "citizen-2")
        offer = read_offer(http, created["offer_uri"])  # type: ignore[arg-type]
        metadata = wallet.metadata(offer["credential_issuer"])
        access_token = wallet.token(offer).json()["access_token"]
        body: dict[str, Any] = {
            "credential_configuration_id": "national_id",
            "proofs": {
                "jwt": [
                    proof(wallet.new_holder(), offer["credential_issuer"], wallet.nonce(metadata))
                ]
            },
        }

        with filled(small_disk):
            _disk_full(wallet.credential(metadata, access_token, body))
            _disk_full(
                http.post(
                    "/issuers/civil-registry/offers",
                    json={
                        "subject_id": "citizen-3",
                        "credential_configuration_id": "national_id",
                        "claims": CITIZEN,
                    },
                    headers=operator_headers(var_dir, "civil-registry"),
                )
            )
            # a challenge is handed out without a write; the sign-in that spends it writes
            phone = Phone(http)
            _disk_full(
                http.post("/wallet/accounts", json={"device_proof": phone.proof(by_kid=False)})
            )
            not_ready = http.get("/ready")
            assert not_ready.status_code == 503, not_ready.text
            assert not_ready.json() == {"status": "unavailable", "reason": "database disk full"}
            assert http.get("/health").status_code == 200  # alive, just not ready

        ready = _ready_within(http, 20)
        assert ready.status_code == 200, ready.text
        # The interrupted credential request left nothing behind: it completes now.
        body["proofs"]["jwt"] = [
            proof(wallet.holders[-1], offer["credential_issuer"], wallet.nonce(metadata))
        ]
        issued = wallet.credential(metadata, access_token, body)
        assert issued.status_code == 200, issued.text
        wallet.receive(offer_national_id(http, var_dir, "citizen-3")["offer_uri"])
    assert "its disk is full" in server.output
    assert " 500 " not in server.output
    assert_invariants(url)
