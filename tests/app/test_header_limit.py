"""Oversized header sections on a real server: the HTTP server reads 70 KiB of request
headers without complaint, so the application refuses anything above 32 KiB with 431
before routing, whatever the path; 31 KiB of headers are served as usual."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.server import running_server

KIB = 1024


def _headers(total: int) -> dict[str, str]:
    """Header fields adding up to about ``total`` bytes, in fields of 4 KiB like large
    cookies or forwarded certificates."""
    fields, size = {}, 0
    while size < total:
        value = "v" * min(4 * KIB, total - size)
        fields[f"x-padding-{len(fields)}"] = value
        size += len(value) + 20
    return fields


def test_request_headers_of_70_kib_are_refused_with_431(var_dir: Path) -> None:
    with running_server(var_dir) as server, httpx.Client(base_url=server.base_url) as client:
        for method, path in (
            ("GET", "/health"),
            ("POST", "/issuers/civil-registry/token"),
            ("GET", "/no/such/route"),
        ):
            refused = client.request(method, path, headers=_headers(70 * KIB))
            assert refused.status_code == 431, (path, refused.status_code)
            assert refused.json()["error"] == "invalid_request"
            assert "32768 bytes" in refused.json()["error_description"]
        served = client.get("/health", headers=_headers(31 * KIB))
        assert served.status_code == 200
        assert served.json() == {"status": "ok"}
    assert "refused a header section of" in server.output
    assert "GET /health 431" not in server.output  # no handler (nor its access log) ran
