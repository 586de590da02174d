"""Interoperability with ``@openid4vc/openid4vci`` (npm), the OpenID4VCI library of the Credo
and Paradym wallets, as an oracle: a wallet built on it (``openid4vci_wallet.mjs``) receives
both demo credentials from a real ``idwallet serve``, with the offer by value and by
reference (OpenID4VCI 1.0 §4.1), with and without a transaction code (§4.1.1, §6.1), through
the nonce endpoint (§7) and a ``jwt`` key proof (§8.2, Appendix F.1).

The library validates the issuer metadata with its own schemas before anything else (a logo
URI it does not accept stops it there), and what it receives must verify with our SD-JWT VC
verification under the agency's key, carry the offered claims, and be bound to the node
wallet's key. The eight cases run against a development server on plain http (through the
library's own ``allowInsecureUrls`` switch); two more against a server whose public base
URL is https, reached as behind a TLS-terminating proxy (the node wallet's fetch routes the
public origin to the loopback port), where the logos are https URLs the agency serves.

Node and npm are needed; the pinned packages are installed into ``tests/interop/node_modules``
(``npm ci``) when missing. Without node or npm, or when the install fails, the module is
skipped with the reason, and under CI (``CI`` set) it fails instead.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from core.jose.jwk import public_jwk, public_key_from_jwk
from core.sdjwt_vc.issuer_keys import X5cIssuerKeys
from core.sdjwt_vc.profile import verify_sd_jwt_vc
from tests.interop.node_wallets import PACKAGES, pinned_node
from tests.issuers.test_catalog import AGENCIES, CITIZEN, DRIVER
from tests.issuers.test_metadata import png_dimensions
from tests.support.key_attestations import deployment_provider
from tests.support.server import RunningServer, running_server
from tests.support.write_load import operator_headers

INTEROP = Path(__file__).resolve().parent
WALLET = INTEROP / "openid4vci_wallet.mjs"
#: What the wallet imports (package.json pins the presentation libraries of the HAIP
#: wallet besides).
OPENID4VCI_PACKAGES = ("@openid4vc/openid4vci", "@openid4vc/oauth2", "@openid4vc/utils")

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
PUBLIC_ORIGIN = "https://idwallet.test"
PROXIED_CASES = [f"{configuration}-behind-an-https-proxy" for configuration in CREDENTIALS]


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


def _deployment(server: RunningServer, var_dir: Path) -> dict[str, Any]:
    """What the checks need of a server: its trust anchor and the agencies' published keys."""
    with httpx.Client(base_url=server.base_url) as http:
        jwks = {
            issuer_id: http.get(f"/.well-known/jwt-vc-issuer/issuers/{issuer_id}").json()["jwks"]
            for issuer_id, _ in CREDENTIALS.values()
        }
    anchor = x509.load_pem_x509_certificate((var_dir / "trust-anchor.pem").read_bytes())
    return {"anchor": anchor, "jwks": jwks}


def _b64url_int(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode("ascii")


def _wallet_provider() -> dict[str, Any]:
    """The wallet provider the node wallet attests its keys with: the one the test servers
    trust as their own (``tests.support.key_attestations``), its signing certificate as
    ``x5c`` (without the CA) and its key as a private JWK."""
    provider = deployment_provider()
    numbers = provider.key.private_numbers()
    return {
        "issuer": "https://wallet-provider.example",
        "x5c": [base64.b64encode(provider.certificate.public_bytes(Encoding.DER)).decode()],
        "private_jwk": {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url_int(numbers.public_numbers.x),
            "y": _b64url_int(numbers.public_numbers.y),
            "d": _b64url_int(numbers.private_value),
        },
    }


def _start_together(
    stack: ExitStack, *servers: AbstractContextManager[RunningServer]
) -> list[RunningServer]:
    """Start the servers at the same time (each takes seconds to come up); every one that
    started is stopped with ``stack``, also when another failed to start."""
    with ThreadPoolExecutor(len(servers)) as pool:
        starting = [pool.submit(server.__enter__) for server in servers]
    for server, started in zip(servers, starting, strict=True):
        if started.exception() is None:
            stack.push(server)
    return [started.result() for started in starting]


@pytest.fixture(scope="module")
def received(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """All cases, run by one node process against the two servers: the results by case
    name, and for each its server's trust anchor and the agencies' published keys."""
    node = pinned_node()
    development_var = tmp_path_factory.mktemp("interop-development")
    proxied_var = tmp_path_factory.mktemp("interop-https")
    with ExitStack() as servers:
        development, proxied = _start_together(
            servers,
            running_server(development_var),
            running_server(proxied_var, IDWALLET_PUBLIC_BASE_URL=PUBLIC_ORIGIN),
        )
        with httpx.Client(base_url=development.base_url) as http:
            cases = []
            for name in CASES:
                configuration, _, rest = name.partition("-by-")
                by_value, tx_code = rest.startswith("value"), "-with-" in rest
                created = _offer(http, development_var, configuration, tx_code)
                offer_uri = created["offer_uri_by_value" if by_value else "offer_uri"]
                cases.append({"name": name, "offer_uri": offer_uri, "tx_code": created["tx_code"]})
        with httpx.Client(base_url=proxied.base_url) as http:
            proxied_cases = []
            for name in PROXIED_CASES:
                created = _offer(http, proxied_var, name.partition("-")[0], tx_code=True)
                offer_uri = created["offer_uri"]
                assert offer_uri.startswith("openid-credential-offer://?credential_offer_uri=https")
                proxied_cases.append(
                    {"name": name, "offer_uri": offer_uri, "tx_code": created["tx_code"]}
                )
        runs = [
            {"allow_insecure_urls": True, "proxy": None, "cases": cases},
            {
                "allow_insecure_urls": False,
                "proxy": {"public_origin": PUBLIC_ORIGIN, "server_origin": proxied.base_url},
                "cases": proxied_cases,
            },
        ]
        wallet = subprocess.run(
            [node, str(WALLET)],
            input=json.dumps({"wallet_provider": _wallet_provider(), "runs": runs}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert wallet.returncode == 0, wallet.stderr
        output = json.loads(wallet.stdout)
        deployments = {
            development.base_url: _deployment(development, development_var),
            PUBLIC_ORIGIN: _deployment(proxied, proxied_var),
        }
    # the wallet reports the versions of the packages it imports, as pinned
    assert output["library"] == {name: PACKAGES[name] for name in OPENID4VCI_PACKAGES}
    yield {
        "results": {result["name"]: result for result in output["results"]},
        "deployments": deployments,
        "development": development.base_url,
    }


async def _check_credential(
    received: dict[str, Any], case: str, base_url: str, configuration: str
) -> list[str]:
    """The credential the library received verifies with the agency's key, carries the
    offered claims and is bound to the node wallet's key; returns the logos it read."""
    result = received["results"][case]
    assert result["ok"], f"{result['error']}\n{result['details']}"
    issuer_id, claims = CREDENTIALS[configuration]
    issuer = f"{base_url}/issuers/{issuer_id}"
    assert result["credential_issuer"] == issuer
    assert result["credential_configuration_id"] == configuration
    assert result["openid4vci_version"] == "V1"

    assert result["format"] == "dc+sd-jwt"
    [credential] = result["credentials"]
    deployment = received["deployments"][base_url]
    verified = await verify_sd_jwt_vc(
        credential,
        issuer_keys=X5cIssuerKeys([deployment["anchor"]]),
        key_binding=None,
        issued=True,
    )
    assert verified.issuer == issuer
    assert verified.vct == f"{issuer}/types/{configuration}"
    published = [
        public_jwk(public_key_from_jwk({k: v for k, v in jwk.items() if k not in ("kid", "use")}))
        for jwk in deployment["jwks"][issuer_id]["keys"]
    ]
    assert public_jwk(verified.issuer_key.key) in published  # the agency's own key
    assert {name: verified.claims.get(name) for name in claims} == claims
    assert verified.claims["cnf"]["jwk"] == result["holder_jwk"]
    # The national ID requires key attestations (§12.2.4): the library made one for the
    # holder key with its wallet-provider API, and the proof carried it; the licence none.
    attestation = result["key_attestation"]
    if configuration == "national_id":
        header = json.loads(base64.urlsafe_b64decode(attestation.split(".")[0] + "=="))
        payload = json.loads(base64.urlsafe_b64decode(attestation.split(".")[1] + "=="))
        assert header["typ"] == "key-attestation+jwt"
        assert payload["attested_keys"] == [result["holder_jwk"]]
    else:
        assert attestation is None
    # The library accepted the metadata, logos included: the agency's and its credentials',
    # in each of the three languages.
    logos: list[str] = result["logos"]
    assert len(logos) == 3 * (1 + len(AGENCIES[issuer_id].configurations))
    return logos


@pytest.mark.parametrize("case", CASES)
async def test_the_library_receives_the_credential(received: dict[str, Any], case: str) -> None:
    configuration = case.partition("-by-")[0]
    logos = await _check_credential(received, case, received["development"], configuration)
    assert received["results"][case]["tx_code_asked"] == ("-with-tx-code" in case)
    # On a plain-http server: PNG data URLs, nothing to fetch.
    assert all(uri.startswith("data:image/png;base64,") for uri in logos)
    assert received["results"][case]["fetched_logos"] == []


@pytest.mark.parametrize("case", PROXIED_CASES)
async def test_the_library_receives_the_credential_from_an_https_deployment(
    received: dict[str, Any], case: str
) -> None:
    configuration = case.partition("-")[0]
    logos = await _check_credential(received, case, PUBLIC_ORIGIN, configuration)
    assert received["results"][case]["tx_code_asked"] is True
    issuer_id = CREDENTIALS[configuration][0]
    image = f"{PUBLIC_ORIGIN}/issuers/{issuer_id}/images/{issuer_id}.png"
    assert set(logos) == {image}
    [fetched] = received["results"][case]["fetched_logos"]
    assert (fetched["uri"], fetched["status"], fetched["content_type"]) == (
        image,
        200,
        "image/png",
    )
    assert png_dimensions(base64.urlsafe_b64decode(fetched["bytes"] + "==")) == (96, 96)
