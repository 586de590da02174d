"""The independent HAIP wallet (``haip_wallet.mjs``, on the ``@openid4vc`` client
libraries) gets a national ID online from a real ``idwallet serve`` whose civil registry
logs the citizen in at the national eID provider: a real, certified OpenID Provider
(``tests.support.oidc_provider``). The wallet hands its authorization request to a browser
as a wallet app does; the test is that browser and the citizen typing their personal
number at the provider. The credential carries what the register holds. A citizen whose
eID login is too weak for the national ID is sent back to the wallet with
``access_denied``, and the wallet gets nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography import x509

from core.sdjwt_vc.issuer_keys import X5cIssuerKeys
from core.sdjwt_vc.profile import verify_sd_jwt_vc
from tests.interop.node_wallets import pinned_node
from tests.interop.test_haip_issuance import (
    CITIZEN,
    CLIENT_ID,
    REDIRECT_URI,
    InteropWalletProvider,
    _register,
    run_wallet,
)
from tests.support.oidc_provider import (
    EIDAS_LOW,
    EIDAS_SUBSTANTIAL,
    ProviderClient,
    ProviderConfig,
    ProviderUser,
    log_in,
    running_oidc_provider,
)
from tests.support.server import free_port, running_server

ISSUER_ID = "civil-registry"
SECRET = "interop-eid-client-secret"
#: Which test user the browser logs in as, by case.
LOGINS = {"national ID after an eID login": CITIZEN, "too weak an eID login": "weak-login"}


class Browser:
    """The citizen's browser: from the wallet's authorization request to the agency, on
    to the eID provider where the citizen logs in, back to the agency's callback, and to
    the wallet's redirect URI, which it reports instead of opening."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.visits: list[str] = []

    def __call__(self, message: dict[str, Any]) -> dict[str, Any]:
        with httpx.Client() as browser:  # its own cookies, as one browser has
            sent = browser.get(message["url"], follow_redirects=False)
            assert sent.status_code == 303, sent.text
            callback = log_in(browser, sent.headers["location"], LOGINS[message["name"]])
            back = browser.get(callback, follow_redirects=False)
            assert back.status_code == 303, back.text
        self.visits += [message["url"], sent.headers["location"], callback]
        return {"location": back.headers["location"]}


def _clerk(message: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError(f"no clerk takes part here: {message}")


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    node = pinned_node()
    var_dir = tmp_path_factory.mktemp("interop-eid")
    wallet_provider = InteropWalletProvider.create()
    anchors = var_dir / "wallet-provider-roots.pem"
    anchors.write_bytes(wallet_provider.root_pem())
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    callback = f"{base_url}/issuers/{ISSUER_ID}/eid/callback"
    config = ProviderConfig(
        clients=(ProviderClient("idwallet", (callback,), client_secret=SECRET),),
        users=(
            ProviderUser("u-erika", EIDAS_SUBSTANTIAL, {"personal_number": CITIZEN}),
            ProviderUser("u-weak", EIDAS_LOW, {"personal_number": "weak-login"}),
        ),
    )
    with (
        running_oidc_provider(config) as eid,
        running_server(
            var_dir,
            IDWALLET_PORT=str(port),
            IDWALLET_WALLET_PROVIDER_ANCHORS=str(anchors),
            IDWALLET_EID_OIDC_ISSUER=eid.issuer,
            IDWALLET_EID_OIDC_CLIENT_ID="idwallet",
            IDWALLET_EID_OIDC_CLIENT_SECRET=SECRET,
            IDWALLET_EID_OIDC_SCOPE="openid eid",
            IDWALLET_OUTBOUND_ALLOW=f"127.0.0.1:{eid.port}",
        ) as server,
    ):
        browser = Browser(server.base_url)
        request = {
            "allow_insecure_urls": True,
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "wallet_provider": wallet_provider.for_wallet(),
            "cases": [
                {
                    "name": name,
                    "credential_issuer": f"{server.base_url}/issuers/{ISSUER_ID}",
                    "credential_configuration_id": "national_id",
                    "options": {"browser": True, "refresh": False},
                }
                for name in LOGINS
            ],
        }
        output = run_wallet(node, request, _clerk, browser)
        jwks = httpx.get(f"{server.base_url}/.well-known/jwt-vc-issuer/issuers/{ISSUER_ID}")
    yield {
        "base_url": server.base_url,
        "eid": eid.issuer,
        "results": {result["name"]: result for result in output["results"]},
        "visits": browser.visits,
        "anchor": x509.load_pem_x509_certificate((var_dir / "trust-anchor.pem").read_bytes()),
        "jwks": jwks.json(),
    }


async def test_the_wallet_gets_the_national_id_after_the_citizens_eid_login(
    issued: dict[str, Any],
) -> None:
    result = issued["results"]["national ID after an eID login"]
    assert result["ok"], f"{result['error']}\n{result['details']}"
    issuer = f"{issued['base_url']}/issuers/{ISSUER_ID}"
    # the browser went from the agency to the eID provider and back to the agency
    authorize, provider, callback = issued["visits"][:3]
    assert urlsplit(authorize).path == f"/issuers/{ISSUER_ID}/authorize"
    assert provider.startswith(f"{issued['eid']}/auth?")
    assert callback.startswith(f"{issuer}/eid/callback?")
    register = _register(ISSUER_ID, "national_id")
    [batch] = result["batches"]
    assert batch["credentials"]
    for credential in batch["credentials"]:
        verified = await verify_sd_jwt_vc(
            credential,
            issuer_keys=X5cIssuerKeys([issued["anchor"]]),
            key_binding=None,
            issued=True,
        )
        assert verified.issuer == issuer
        # the register's record of the personal number the provider vouched for
        assert {name: verified.claims.get(name) for name in register} == register
        assert verified.claims["cnf"]["jwk"] in batch["holder_jwks"]


def test_too_weak_an_eid_login_leaves_the_wallet_without_a_credential(
    issued: dict[str, Any],
) -> None:
    result = issued["results"]["too weak an eID login"]
    assert not result["ok"]
    refused = json.loads(result["error"].split("authorization refused: ", 1)[1])
    assert refused["error"] == "access_denied"
    assert "stronger eID login" in refused["error_description"]
