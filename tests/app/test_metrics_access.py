"""Where ``/metrics`` is served, on real servers: behind a bearer token on the public port
(``IDWALLET_METRICS_TOKEN``); on a port of its own (``IDWALLET_METRICS_PORT``) and not on
the public one, adding up every worker's counts; not at all in production without either,
with start-up saying how to enable it. Development keeps it open on the public port."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.metrics_access import HOW_TO_ENABLE
from core.encoding import b64url_encode
from core.keys.signer import SoftwareSigner
from core.keys.x509 import create_trust_anchor
from issuers.services.catalog import load_catalog
from tests.support.server import free_port, running_server
from verifiers.services.catalog import load_relying_parties, load_templates

TOKEN = "metrics-" + "z" * 24
JWKS = "/.well-known/jwt-vc-issuer/issuers/civil-registry"


def _count(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if head.split("{")[0] == name and all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def test_metrics_are_open_on_the_public_port_in_development(var_dir: Path) -> None:
    with running_server(var_dir) as server:
        response = httpx.get(f"{server.base_url}/metrics")
        assert response.status_code == 200
        assert "idwallet_issuances_total" in response.text


def test_metrics_require_the_token_when_one_is_configured(var_dir: Path) -> None:
    with running_server(var_dir, IDWALLET_METRICS_TOKEN=TOKEN) as server:
        url = f"{server.base_url}/metrics"
        for headers in ({}, {"Authorization": "Bearer wrong-token-of-some-length"}):
            refused = httpx.get(url, headers=headers)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "idwallet_" not in refused.text
        granted = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert granted.status_code == 200
        assert "idwallet_issuances_total" in granted.text


def test_a_metrics_port_adds_up_every_worker_and_the_public_port_has_none(var_dir: Path) -> None:
    metrics_port = free_port()
    with running_server(
        var_dir,
        IDWALLET_WORKERS="2",
        IDWALLET_METRICS_PORT=str(metrics_port),
        IDWALLET_METRICS_TOKEN=TOKEN,
    ) as server:
        assert httpx.get(f"{server.base_url}/metrics").status_code == 404
        requests = 40
        for _ in range(requests):  # a connection each: the workers share them out
            assert httpx.get(f"{server.base_url}{JWKS}").status_code == 200
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        assert httpx.get(url).status_code == 401
        assert httpx.get(f"http://127.0.0.1:{metrics_port}/other").status_code == 404
        scraped = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert scraped.status_code == 200
        # the serve process answers no API request itself: these counts are the workers'
        path = "/.well-known/jwt-vc-issuer/issuers/{issuer_id}"
        assert _count(scraped.text, "idwallet_requests_total", path=path) == requests
    assert f"metrics             http://127.0.0.1:{metrics_port}/metrics" in server.output


def _production_env(directory: Path) -> dict[str, str]:
    """What production requires, made for this test: the key-encryption key, the trust
    anchor with its key, every agency's and relying party's operator key."""
    anchor_key = ec.generate_private_key(ec.SECP256R1())
    anchor = create_trust_anchor(
        SoftwareSigner(anchor_key), common_name="test anchor", now=dt.datetime.now(dt.UTC)
    )
    (directory / "anchor.pem").write_bytes(anchor.public_bytes(serialization.Encoding.PEM))
    (directory / "anchor.key").write_bytes(
        anchor_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    base = "https://id.example.gov"
    tenants = [*load_catalog(), *load_relying_parties(load_templates(base))]
    keys = {tenant: secrets.token_urlsafe(32) for tenant in tenants}
    (directory / "operator-keys.json").write_text(json.dumps(keys))
    return {
        "IDWALLET_ENVIRONMENT": "production",
        "IDWALLET_PUBLIC_BASE_URL": base,
        "IDWALLET_KEY_ENCRYPTION_KEY": b64url_encode(os.urandom(32)),
        "IDWALLET_TRUST_ANCHOR_CERT": str(directory / "anchor.pem"),
        "IDWALLET_TRUST_ANCHOR_KEY": str(directory / "anchor.key"),
        "IDWALLET_OPERATOR_KEYS_FILE": str(directory / "operator-keys.json"),
    }


def test_production_serves_no_metrics_without_a_port_or_a_token(
    var_dir: Path, tmp_path: Path
) -> None:
    with running_server(var_dir, **_production_env(tmp_path)) as server:
        assert httpx.get(f"{server.base_url}/health").status_code == 200
        assert httpx.get(f"{server.base_url}/metrics").status_code == 404
    assert HOW_TO_ENABLE in server.output
