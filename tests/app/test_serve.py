"""``idwallet serve`` as a real server process: migrates, serves /health, /ready and
/schema, and shuts down cleanly on SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.support.server import running_server


def test_serve_answers_health_ready_and_schema(var_dir: Path) -> None:
    with running_server(var_dir) as server:
        base = server.base_url
        assert httpx.get(f"{base}/ready").json() == {"status": "ready"}
        schema = httpx.get(f"{base}/schema")
        assert schema.status_code == 200 and "html" in schema.headers["content-type"]
        assert httpx.get(f"{base}/schema/openapi.json").json()["info"]["title"] == "idwallet"
        assert (var_dir / "idwallet.db").exists()
    # uvicorn finishes the shutdown, then re-raises SIGTERM so the exit status tells why.
    assert server.process.returncode in (0, -signal.SIGTERM), server.output
    assert "Application shutdown complete" in server.output
    assert "Traceback" not in server.output


def test_serve_port_option_sets_the_public_urls(var_dir: Path) -> None:
    with running_server(var_dir) as server:
        metadata = httpx.get(
            f"{server.base_url}/.well-known/openid-credential-issuer/issuers/civil-registry"
        ).json()
        assert metadata["credential_issuer"] == f"{server.base_url}/issuers/civil-registry"
    assert "agency civil-registry" in server.output
    assert "API documentation" in server.output
