"""The agencies read their registers over a real connection: the demo register service
in its own process (``idwallet register serve``), queried with signed requests
(``IDWALLET_REGISTER_CONNECTOR=http``), on SQLite and PostgreSQL.

Once only: a desk offer without claims reads the register and the wallet shows in its
activity log that the agency read the citizen's data from the register; every read is in
the audit trail without the citizen's identifier. A register that is down, or stalls past
the outbound deadline, fails the desk offer and the online authorization with a clear
error and leaves nothing half-issued (no offer, no code, no status index)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app import create_app
from app.register_settings import RegisterSettings
from app.settings import Settings
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_issuance import operator_key
from tests.support.register_service import RunningRegister, running_register, stalled_register
from tests.wallet.phone import Phone
from tests.wallet.test_deferred_receipt import _applied

TRANSPORT = f"{PUBLIC_BASE_URL}/issuers/transport-agency"
CITIZEN = "demo-citizen"


@pytest.fixture
def register(settings: Settings) -> Iterator[RunningRegister]:
    with running_register(settings.var_dir, public_base_url=PUBLIC_BASE_URL) as running:
        yield running


def _over_http(settings: Settings, url: str, **changes: Any) -> Settings:
    return dataclasses.replace(
        settings,
        register=RegisterSettings(connector="http", url=url),
        test_citizen=CITIZEN,
        **changes,
    )


@pytest.fixture
def client(settings: Settings, register: RunningRegister) -> Iterator[TestClient[Any]]:
    with TestClient(
        app=create_app(_over_http(settings, register.url)), base_url=PUBLIC_BASE_URL
    ) as client:
        yield client


def _desk_offer(client: TestClient[Any], **body: Any) -> Any:
    return client.post(
        "/issuers/transport-agency/offers",
        json={"subject_id": CITIZEN, "credential_configuration_id": "driving_licence", **body},
        headers={"Authorization": f"Bearer {operator_key(client, 'transport-agency')}"},
    )


def _subject(client: TestClient[Any]) -> dict[str, Any]:
    looked_up = client.get(
        f"/issuers/transport-agency/subjects/{CITIZEN}",
        headers={"Authorization": f"Bearer {operator_key(client, 'transport-agency')}"},
    )
    assert looked_up.status_code == 200, looked_up.text
    subject: dict[str, Any] = looked_up.json()
    return subject


def _audit_entries(settings: Settings) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        engine = create_async_engine(settings.database_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text(
                        "SELECT actor_kind, actor, action, outcome, facts, subject_key"
                        " FROM audit_entries WHERE action = 'register.read' ORDER BY id"
                    )
                )
                return [dict(row._mapping) for row in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_a_desk_offer_reads_the_register_and_the_wallet_says_so(
    client: TestClient[Any], settings: Settings
) -> None:
    desk = _subject(client)
    assert desk.get("register_unavailable") is None
    assert desk["register"]["driving_licence"]["family_name"] == "Mustermann"

    offered = _desk_offer(client)  # no claims: read from the register now
    assert offered.status_code == 201, offered.text
    phone = Phone(client)
    phone.register()
    received = phone.receive(offered.json()["offer_uri"])
    [card] = received["credentials"]

    activity = phone.get("/wallet/activity").json()["activity"]
    reads = [entry for entry in activity if entry["kind"] == "register_read"]
    assert len(reads) == 1, activity
    [read] = reads
    assert read["credential_id"] == card["credential_id"]
    assert read["issuer_name"] == "Transport Agency"
    assert read["credential"] == card["name"]
    assert {"locale": "en", "name": "Driving licence register"} in read["register"]
    assert read["purpose"] == "issue_credential"

    # a clerk's own claims are not a register read: the wallet is told nothing
    typed = _desk_offer(client, claims=desk["register"]["driving_licence"])
    assert typed.status_code == 201, typed.text
    phone.receive(typed.json()["offer_uri"])
    activity = phone.get("/wallet/activity").json()["activity"]
    assert len([entry for entry in activity if entry["kind"] == "register_read"]) == 1

    entries = _audit_entries(settings)
    purposes = [json.loads(e["facts"])["purpose"] for e in entries]
    assert purposes == ["desk_lookup", "desk_lookup", "issue_credential"]
    for entry in entries:
        assert entry["actor_kind"] == "agency" and entry["actor"] == "transport-agency"
        assert entry["outcome"] == "ok" and entry["subject_key"] is None
        assert CITIZEN not in json.dumps(entry) and "Mustermann" not in json.dumps(entry)
        assert json.loads(entry["facts"])["register"] == "transport-agency"


def test_a_register_that_is_down_fails_the_offer_and_leaves_nothing(
    client: TestClient[Any], settings: Settings, register: RunningRegister
) -> None:
    assert _desk_offer(client).status_code == 201
    offers_before = len(_subject(client)["offers"])
    register.stop()

    refused = _desk_offer(client)
    assert refused.status_code == 503, refused.text
    problem = refused.json()
    assert problem["register"] == "unreachable"
    assert "nothing was offered" in problem["detail"]
    desk = _subject(client)
    assert desk["register"] == {}
    assert "could not be read" in desk["register_unavailable"]
    assert len(desk["offers"]) == offers_before  # no offer row
    assert _audit_entries(settings)[-1]["outcome"] == "unreachable"

    # online: the citizen signed in, the register cannot be read → the wallet is told to
    # try again later, and the authorization ends with no code and no offer
    phone = Phone(client)
    phone.register()
    started = phone.post(
        "/wallet/issuances",
        {"credential_issuer": TRANSPORT, "credential_configuration_id": "driving_licence"},
    )
    assert started.status_code == 201, started.text
    browsed = client.get(started.json()["authorization_url"], follow_redirects=False)
    assert browsed.status_code == 303, browsed.text
    answer = {k: v[0] for k, v in parse_qs(urlsplit(browsed.headers["location"]).query).items()}
    assert answer["error"] == "temporarily_unavailable"
    assert "register could not be read" in answer["error_description"]
    assert "code" not in answer
    desk = _subject(client)
    assert len(desk["offers"]) == offers_before and desk["credentials"] == []


def test_a_register_stalled_past_the_deadline_fails_the_offer(settings: Settings) -> None:
    with (
        stalled_register() as url,
        TestClient(
            app=create_app(_over_http(settings, url, outbound_deadline=1)),
            base_url=PUBLIC_BASE_URL,
        ) as client,
    ):
        refused = _desk_offer(client)
        assert refused.status_code == 503, refused.text
        assert refused.json()["register"] == "unreachable"
        assert _subject(client)["offers"] == []
    [entry] = [
        e for e in _audit_entries(settings) if json.loads(e["facts"])["purpose"] != "desk_lookup"
    ]
    assert entry["outcome"] == "unreachable"


def _tls_files(directory: Path) -> dict[str, Path]:
    """A TLS CA, the register's server certificate for 127.0.0.1 and the agency side's
    client certificate, all under that CA (PEM files)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "register TLS CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    files = {"ca": directory / "ca.pem"}
    files["ca"].write_bytes(ca.public_bytes(Encoding.PEM))
    for name, san in (
        ("server", x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
        ("client", x509.UniformResourceIdentifier(f"{PUBLIC_BASE_URL}/issuers/transport-agency")),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        files[name] = directory / f"{name}.pem"
        files[name].write_bytes(certificate.public_bytes(Encoding.PEM))
        files[f"{name}-key"] = directory / f"{name}.key"
        files[f"{name}-key"].write_bytes(
            key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        )
    return files


def test_the_register_behind_mutual_tls(settings: Settings, tmp_path: Path) -> None:
    """The register asks every client for a certificate under its CA: the agency with
    its client certificate is answered; without one, nothing is offered."""
    tls = _tls_files(tmp_path)
    args = (
        "--tls-cert", str(tls["server"]), "--tls-key", str(tls["server-key"]),
        "--tls-client-ca", str(tls["ca"]),
    )  # fmt: skip
    context = ssl.create_default_context(cafile=str(tls["ca"]))
    context.load_cert_chain(str(tls["client"]), str(tls["client-key"]))
    health = {"verify": context}
    with running_register(
        settings.var_dir, public_base_url=PUBLIC_BASE_URL, args=args, scheme="https", health=health
    ) as register:
        mutual = RegisterSettings(
            connector="http",
            url=register.url,
            tls_client_cert=tls["client"],
            tls_client_key=tls["client-key"],
            tls_ca=tls["ca"],
        )
        for registers, status in ((mutual, 201), (dataclasses.replace(mutual, tls_client_cert=None, tls_client_key=None), 503)):  # fmt: skip
            with TestClient(
                app=create_app(dataclasses.replace(settings, register=registers)),
                base_url=PUBLIC_BASE_URL,
            ) as client:
                offered = _desk_offer(client)
                assert offered.status_code == status, offered.text


def test_an_online_issuance_deferred_for_a_clerk_says_the_register_was_read(
    client: TestClient[Any],
) -> None:
    """The citizen signs in online for the professional licence, which a clerk approves
    first: the register is read at once, and the wallet's activity log says so while the
    licence is still to come."""
    phone, result = _applied(client)
    assert result["status"] == "pending"
    activity = phone.get("/wallet/activity").json()["activity"]
    [read] = [entry for entry in activity if entry["kind"] == "register_read"]
    assert "credential_id" not in read
    assert read["credential"] == "Professional driving licence"
    assert read["issuer_name"] == "Transport Agency"
    assert {"locale": "de", "name": "Fahrerlaubnisregister"} in read["register"]
