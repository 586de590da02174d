"""What a wallet instance authenticates with at an authorization server: the wallet
attestation and its proof of possession (``wallet.services.instance_keys``). The PoP
carries ``exp`` besides ``iat``: issuers built on ``@openid4vc/oauth2`` 0.4 (Credo's)
refuse one without it (tests/interop/test_haip_issuer.py), and ours take it."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from core.client_attestation import (
    CLIENT_ATTESTATION_HEADER,
    CLIENT_ATTESTATION_POP_HEADER,
    ClientAttestationPolicy,
    ClientAttestationPresentation,
    ClientAttestationVerifier,
)
from core.encoding import b64url_decode
from tests.support.key_attestations import deployment_provider
from wallet.services.instance_keys import POP_LIFETIME, InstanceKeys
from wallet.services.sealing import AccountBox
from wallet.services.wallet_provider import WalletProvider

AUTHORIZATION_SERVER = "https://issuer.example/issuers/library"
WALLET = "https://wallet.example/wallet"


class SeenOnce:
    def __init__(self) -> None:
        self.kept: set[tuple[str, str]] = set()

    async def first_use(self, scope: str, value: str, keep_until: float) -> bool:
        if (scope, value) in self.kept:
            return False
        self.kept.add((scope, value))
        return True


def _claims(jwt: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(b64url_decode(jwt.split(".")[1]))
    return value


def test_the_pop_carries_exp_and_our_agencies_take_it() -> None:
    tests_provider = deployment_provider()
    provider = WalletProvider(
        signer=tests_provider.signer,
        ca=tests_provider.anchor,
        identifier=WALLET,
        name="idwallet",
        link="https://wallet.example/",
    )
    box = AccountBox("account-1", os.urandom(32))
    now = int(time.time())
    keys = InstanceKeys.new(box, now)
    headers = keys.client_attestation(box, provider, audience=AUTHORIZATION_SERVER, now=now)

    pop = _claims(headers[CLIENT_ATTESTATION_POP_HEADER])
    assert set(pop) == {"iss", "aud", "jti", "iat", "exp"}
    assert pop["iat"] == now and pop["exp"] == now + POP_LIFETIME
    assert pop["iss"] == WALLET and pop["aud"] == AUTHORIZATION_SERVER

    verifier = ClientAttestationVerifier(
        ClientAttestationPolicy(
            issuer=AUTHORIZATION_SERVER, wallet_provider_anchors=(tests_provider.anchor,)
        ),
        seen_once=SeenOnce(),
    )
    client = asyncio.run(
        verifier.verify(
            ClientAttestationPresentation(
                headers[CLIENT_ATTESTATION_HEADER], headers[CLIENT_ATTESTATION_POP_HEADER]
            ),
            client_id=WALLET,
        )
    )
    assert client.client_id == WALLET
