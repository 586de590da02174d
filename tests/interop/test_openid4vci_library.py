"""Interoperability with ``@openid4vc/openid4vci`` (npm), the OpenID4VCI library of the Credo
and Paradym wallets, as an oracle: a wallet built on it (``openid4vci_wallet.mjs``) receives
both demo credentials from a real ``idwallet serve``, with the offer by value and by
reference (OpenID4VCI 1.0 §4.1), with and without a transaction code (§4.1.1, §6.1), through
the nonce endpoint (§7) and a ``jwt`` key proof (§8.2, Appendix F.1).

The library validates the issuer metadata with its own schemas before anything else (a logo
URI it does not accept stops it there), and what it receives must verify with our SD-JWT VC
verification under the agency's key, carry the offered claims, and be bound to the node
wallet's key.

Node and npm are needed; the pinned packages are installed into ``tests/interop/node_modules``
(``npm ci``) when missing. Without node or npm, or when the install fails, the module is
skipped with the reason, and under CI (``CI`` set) it fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from cryptography import x509

from core.jose.jwk import public_jwk, public_key_from_jwk
from core.sdjwt_vc.issuer_keys import X5cIssuerKeys
from core.sdjwt_vc.profile import verify_sd_jwt_vc
from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.support.server import running_server
from tests.support.write_load import operator_headers

INTEROP = Path(__file__).resolve().parent
WALLET = INTEROP / "openid4vci_wallet.mjs"
PACKAGES = json.loads((INTEROP / "package.json").read_text(encoding="utf-8"))["dependencies"]

CREDENTIALS = {
    "national_id": ("civil-registry", CITIZEN),
    "driving_licence": ("transport-agency", DRIVER),
}
CASES = [
    f"{configuration}-by-{delivery}-{'with' if tx_code else 'without'}-tx-code"
    for configuration in CREDENTIALS
    for delivery in ("value", "reference")
    for tx_code in (True, False)
]


def _unavailable(reason: str) -> NoReturn:
    message = f"the @openid4vc/openid4vci oracle cannot run: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _installed_version(package: str) -> str | None:
    manifest = INTEROP / "node_modules" / package / "package.json"
    if not manifest.exists():
        return None
    version: str = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    return version


def _node() -> str:
    """node, with the pinned packages installed (``npm ci`` when any is missing or differs)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are not installed")
    if any(_installed_version(name) != version for name, version in PACKAGES.items()):
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=INTEROP,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if installed.returncode != 0:
            _unavailable(f"npm ci in tests/interop failed:\n{installed.stderr[-3000:]}")
    return node


def _offer(http: httpx.Client, var_dir: Path, configuration: str, tx_code: bool) -> Any:
    issuer_id, claims = CREDENTIALS[configuration]
    created = http.post(
        f"/issuers/{issuer_id}/offers",
        json={
            "subject_id": f"interop-{configuration}-{'tx' if tx_code else 'plain'}",
            "credential_configuration_id": configuration,
            "claims": claims,
            "tx_code": tx_code,
        },
        headers=operator_headers(var_dir, issuer_id),
    )
    assert created.status_code == 201, created.text
    return created.json()


@pytest.fixture(scope="module")
def received(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """All eight cases, run by one node process against one server; the results by case
    name, with the server's trust anchor and the agencies' published keys."""
    node = _node()
    var_dir = tmp_path_factory.mktemp("interop-var")
    with running_server(var_dir) as server, httpx.Client(base_url=server.base_url) as http:
        cases = []
        for name in CASES:
            configuration, _, rest = name.partition("-by-")
            by_value, tx_code = rest.startswith("value"), "-with-" in rest
            created = _offer(http, var_dir, configuration, tx_code)
            cases.append(
                {
                    "name": name,
                    "offer_uri": created["offer_uri_by_value" if by_value else "offer_uri"],
                    "tx_code": created["tx_code"],
                }
            )
        wallet = subprocess.run(
            [node, str(WALLET)],
            input=json.dumps({"allow_insecure_urls": True, "cases": cases}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert wallet.returncode == 0, wallet.stderr
        output = json.loads(wallet.stdout)
        jwks = {
            issuer_id: http.get(f"/.well-known/jwt-vc-issuer/issuers/{issuer_id}").json()["jwks"]
            for issuer_id, _ in CREDENTIALS.values()
        }
    assert output["library"] == PACKAGES
    yield {
        "results": {result["name"]: result for result in output["results"]},
        "base_url": server.base_url,
        "anchor": x509.load_pem_x509_certificate((var_dir / "trust-anchor.pem").read_bytes()),
        "jwks": jwks,
    }


@pytest.mark.parametrize("case", CASES)
async def test_the_library_receives_the_credential(received: dict[str, Any], case: str) -> None:
    result = received["results"][case]
    assert result["ok"], f"{result['error']}\n{result['details']}"
    configuration = case.partition("-by-")[0]
    issuer_id, claims = CREDENTIALS[configuration]
    issuer = f"{received['base_url']}/issuers/{issuer_id}"
    assert result["credential_issuer"] == issuer
    assert result["credential_configuration_id"] == configuration
    assert result["openid4vci_version"] == "V1"
    assert result["tx_code_asked"] == ("-with-tx-code" in case)
    # The library accepted the metadata, logos included: PNG data URLs on a plain-http server.
    assert len(result["logos"]) == 6
    assert all(uri.startswith("data:image/png;base64,") for uri in result["logos"])

    assert result["format"] == "dc+sd-jwt"
    [credential] = result["credentials"]
    verified = await verify_sd_jwt_vc(
        credential,
        issuer_keys=X5cIssuerKeys([received["anchor"]]),
        key_binding=None,
        issued=True,
    )
    assert verified.issuer == issuer
    assert verified.vct == f"{issuer}/types/{configuration}"
    published = [
        public_jwk(public_key_from_jwk({k: v for k, v in jwk.items() if k not in ("kid", "use")}))
        for jwk in received["jwks"][issuer_id]["keys"]
    ]
    assert public_jwk(verified.issuer_key.key) in published  # the agency's own key
    assert {name: verified.claims.get(name) for name in claims} == claims
    assert verified.claims["cnf"]["jwk"] == result["holder_jwk"]
