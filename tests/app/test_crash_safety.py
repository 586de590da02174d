"""SECURITY-CASES F01 and F09 against real server processes killed with SIGKILL at named
fault points (``IDWALLET_FAULT``), then restarted on the same database: what was not
committed leaves no trace, what was committed stays, and the invariants hold in SQL."""

from __future__ import annotations

import base64
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from cryptography import x509

from core.encoding import b64url_decode
from core.faults import (
    AFTER_COMMIT_BEFORE_RESPONSE,
    AFTER_SIGN_BEFORE_COMMIT,
    STATUS_LIST_AFTER_SIGN,
)
from core.status_list.bits import StatusList
from tests.conftest import backend_url, migrated_database
from tests.issuers.wallet import Wallet, proof, read_offer
from tests.support.invariants import assert_invariants, count_rows
from tests.support.server import RunningServer, free_port, running_server
from tests.support.write_load import offer_national_id, operator_headers

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _database(backend: str, tmp_path: Path) -> str:
    return migrated_database(backend_url(backend, tmp_path))


def _offer(http: httpx.Client, var_dir: Path, subject: str) -> dict[str, Any]:
    created = offer_national_id(http, var_dir, subject)
    return read_offer(http, created["offer_uri"])  # type: ignore[arg-type]


def _killed(server: RunningServer) -> bool:
    return server.process.wait(timeout=30) == -signal.SIGKILL


@pytest.fixture
def node(var_dir: Path) -> Iterator[Any]:
    """Start a node on the shared var/ with extra settings; several at once may run."""

    def start(url: str, port: int | None = None, **extra: str) -> Any:
        port = port or free_port()
        return running_server(
            var_dir,
            IDWALLET_PORT=str(port),
            IDWALLET_DATABASE_URL=url,
            IDWALLET_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            **extra,
        )

    yield start


@pytest.mark.parametrize("backend", BACKENDS)
def test_f01_killed_between_signing_and_commit(
    backend: str, tmp_path: Path, var_dir: Path, node: Any
) -> None:
    url = _database(backend, tmp_path)
    port = free_port()  # the restarted node answers where the first one did
    with node(url, port, IDWALLET_FAULT=AFTER_SIGN_BEFORE_COMMIT) as doomed:
        http = httpx.Client(base_url=doomed.base_url, timeout=30)
        wallet = Wallet(http)  # type: ignore[arg-type]
        offer = _offer(http, var_dir, "crash-citizen")
        issuer = offer["credential_issuer"]
        metadata = wallet.metadata(issuer)
        access_token = wallet.token(offer).json()["access_token"]
        first_nonce = wallet.nonce(metadata)
        body = {
            "credential_configuration_id": "national_id",
            "proofs": {"jwt": [proof(wallet.new_holder(), issuer, first_nonce)]},
        }
        with pytest.raises(httpx.TransportError):  # the process died mid-request
            wallet.credential(metadata, access_token, body)
        assert _killed(doomed)
    assert "fault point after_sign_before_commit reached" in doomed.output

    # nothing of the signed-but-uncommitted credential remains
    assert count_rows(url, "SELECT count(*) FROM issuer_credentials") == 0
    assert count_rows(url, "SELECT count(*) FROM issuer_nonces") == 0
    assert count_rows(url, "SELECT count(*) FROM issuer_access_grants WHERE used") == 0
    assert_invariants(url)

    with node(url, port) as restarted:
        http = httpx.Client(base_url=restarted.base_url, timeout=30)
        wallet = Wallet(http)  # type: ignore[arg-type]
        metadata = wallet.metadata(issuer)
        retry = {
            "credential_configuration_id": "national_id",
            "proofs": {"jwt": [proof(wallet.new_holder(), issuer, wallet.nonce(metadata))]},
        }
        issued = wallet.credential(metadata, access_token, retry)
        assert issued.status_code == 200, issued.text
        again = wallet.credential(
            metadata,
            access_token,
            {
                "credential_configuration_id": "national_id",
                "proofs": {"jwt": [proof(wallet.new_holder(), issuer, wallet.nonce(metadata))]},
            },
        )
        assert again.status_code == 401 and again.json()["error"] == "invalid_token"
    assert count_rows(url, "SELECT count(*) FROM issuer_credentials") == 1
    credential = issued.json()["credentials"][0]["credential"]
    status = json.loads(b64url_decode(credential.split(".")[1]))["status"]["status_list"]
    assert (
        count_rows(
            url,
            f"SELECT count(*) FROM issuer_credentials WHERE status_index = {int(status['idx'])}",
        )
        == 1
    )
    assert_invariants(url)


def _checked_token(token: str, uri: str) -> StatusList:
    """A complete, validly signed Status List Token, checked with PyJWT against the key of
    the certificate it carries."""
    header = jwt.get_unverified_header(token)
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    claims = jwt.decode(
        token, leaf.public_key(), algorithms=["ES256"], options={"require": ["iat", "exp", "sub"]}
    )
    assert claims["sub"] == uri
    return StatusList.from_json(claims["status_list"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_f09_status_list_publication_survives_a_kill(
    backend: str, tmp_path: Path, var_dir: Path, node: Any
) -> None:
    url = _database(backend, tmp_path)
    port = free_port()
    with node(url, port) as steady:
        http = httpx.Client(base_url=steady.base_url, timeout=30)
        offer = _offer(http, var_dir, "status-citizen")
        wallet = Wallet(http)  # type: ignore[arg-type]
        _, credentials, _ = wallet.receive(
            f"openid-credential-offer://?credential_offer={json.dumps(offer)}"
        )
        status = json.loads(b64url_decode(credentials[0].split(".")[1]))["status"]["status_list"]
        uri, index, path = status["uri"], status["idx"], urlsplit(status["uri"]).path
        assert _checked_token(http.get(path).text, uri).get(index) == 0  # published, old

        revoked = http.post(
            "/issuers/civil-registry/credentials/revoke",
            json={"subject_id": "status-citizen", "reason": "crash test"},
            headers=operator_headers(var_dir, "civil-registry"),
        )
        assert revoked.status_code == 200, revoked.text

    def read_steadily(base_url: str, served: list[str], stop: threading.Event) -> None:
        """A relying party's cache refreshing all the while; a lost connection is fine,
        a token that is not complete and validly signed is not."""
        with httpx.Client(base_url=base_url, timeout=30) as reader:
            while not stop.is_set():
                try:
                    served.append(reader.get(path).text)
                except httpx.TransportError:
                    return

    def reading(base_url: str) -> tuple[list[str], threading.Event, list[threading.Thread]]:
        served: list[str] = []
        stop = threading.Event()
        readers = [
            threading.Thread(target=read_steadily, args=(base_url, served, stop)) for _ in range(3)
        ]
        for reader in readers:
            reader.start()
        return served, stop, readers

    # Only the doomed node reads the list now: it must rebuild it, and dies signing.
    with node(url, IDWALLET_FAULT=STATUS_LIST_AFTER_SIGN) as doomed:
        served, stop, readers = reading(doomed.base_url)
        try:
            with pytest.raises(httpx.TransportError):
                httpx.get(f"{doomed.base_url}{path}", timeout=30)
            assert _killed(doomed)
        finally:
            stop.set()
            for reader in readers:
                reader.join()
    assert "fault point status_list_after_sign reached" in doomed.output
    for token in served:  # whatever got out before the kill was complete and valid
        _checked_token(token, uri)
    # the published token was never half-replaced: the old one stands, whole
    assert (
        count_rows(
            url, "SELECT count(*) FROM issuer_status_lists WHERE published_version < version"
        )
        == 1
    )

    with node(url, port) as restarted:  # the revocation committed before the kill shows
        served, stop, readers = reading(restarted.base_url)
        try:
            token = httpx.get(f"{restarted.base_url}{path}", timeout=30).text
            assert _checked_token(token, uri).get(index) == 1
            time.sleep(0.3)
        finally:
            stop.set()
            for reader in readers:
                reader.join()
    assert served, "the restarted node answered nothing"
    for token in served:
        assert _checked_token(token, uri).get(index) == 1
    assert_invariants(url)


@pytest.mark.parametrize("backend", BACKENDS)
def test_killed_after_commit_the_retry_gets_the_same_credentials(
    backend: str, tmp_path: Path, var_dir: Path, node: Any
) -> None:
    """The credentials were committed and the process died before the response left. The
    wallet's retry of the same request (same access token, same key proofs) gets them;
    before, the used grant answered invalid_token and the credentials stayed undelivered."""
    url = _database(backend, tmp_path)
    port = free_port()
    with node(url, port, IDWALLET_FAULT=AFTER_COMMIT_BEFORE_RESPONSE) as doomed:
        http = httpx.Client(base_url=doomed.base_url, timeout=30)
        wallet = Wallet(http)  # type: ignore[arg-type]
        offer = _offer(http, var_dir, "crash-citizen")
        issuer = offer["credential_issuer"]
        metadata = wallet.metadata(issuer)
        access_token = wallet.token(offer).json()["access_token"]
        nonce = wallet.nonce(metadata)
        holders = [wallet.new_holder(), wallet.new_holder()]
        body = {
            "credential_configuration_id": "national_id",
            "proofs": {"jwt": [proof(holder, issuer, nonce) for holder in holders]},
        }
        with pytest.raises(httpx.TransportError):
            wallet.credential(metadata, access_token, body)
        assert _killed(doomed)
    assert "fault point after_commit_before_response reached" in doomed.output
    assert count_rows(url, "SELECT count(*) FROM issuer_credentials") == 2

    with node(url, port) as restarted:
        http = httpx.Client(base_url=restarted.base_url, timeout=30)
        wallet.client = http  # type: ignore[assignment]
        # The wallet signs its proofs again (new iat) for the same keys and c_nonce.
        retry = {
            "credential_configuration_id": "national_id",
            "proofs": {"jwt": [proof(holder, issuer, nonce) for holder in holders]},
        }
        delivered = wallet.credential(metadata, access_token, retry)
        assert delivered.status_code == 200, delivered.text
        again = wallet.credential(metadata, access_token, retry)
        assert again.json() == delivered.json()
        other = {
            "credential_configuration_id": "national_id",
            "proofs": {"jwt": [proof(wallet.new_holder(), issuer, wallet.nonce(metadata))]},
        }
        refused = wallet.credential(metadata, access_token, other)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    credentials = [c["credential"] for c in delivered.json()["credentials"]]
    keys = [json.loads(b64url_decode(c.split(".")[1]))["cnf"]["jwk"]["x"] for c in credentials]
    assert keys == [holder.public_jwk()["x"] for holder in holders]
    assert count_rows(url, "SELECT count(*) FROM issuer_credentials") == 2
    assert_invariants(url)
