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

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from core.client_attestation import (
    CLIENT_ATTESTATION_HEADER,
    CLIENT_ATTESTATION_POP_HEADER,
    ClientAttestationPolicy,
    ClientAttestationPresentation,
    ClientAttestationVerifier,
)
from core.encoding import b64url_decode, b64url_encode
from core.jose.jwk import public_jwk
from tests.support.key_attestations import deployment_provider
from wallet.services.instance_keys import POP_LIFETIME, InstanceKeys
from wallet.services.sealing import AccountBox
from wallet.services.server_held_keys import ServerHeldKeys
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


def _provider() -> tuple[WalletProvider, Any]:
    tests_provider = deployment_provider()
    provider = WalletProvider(
        signer=tests_provider.signer,
        ca=tests_provider.anchor,
        identifier=WALLET,
        name="idwallet",
        link="https://wallet.example/",
    )
    return provider, tests_provider.anchor


def _accepted(anchor: Any, headers: dict[str, str]) -> str:
    verifier = ClientAttestationVerifier(
        ClientAttestationPolicy(issuer=AUTHORIZATION_SERVER, wallet_provider_anchors=(anchor,)),
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
    return client.client_id


def test_the_pop_carries_exp_and_our_agencies_take_it() -> None:
    provider, anchor = _provider()
    box = AccountBox("account-1", os.urandom(32))
    now = int(time.time())
    server_keys = ServerHeldKeys()
    keys = InstanceKeys.new(server_keys, box, now)
    pop_input = keys.pop_input(provider, AUTHORIZATION_SERVER, now)
    headers = keys.attestation_headers(
        provider, keys.sign_here(server_keys, box, "attestation", pop_input), now
    )

    pop = _claims(headers[CLIENT_ATTESTATION_POP_HEADER])
    assert set(pop) == {"iss", "aud", "jti", "iat", "exp"}
    assert pop["iat"] == now and pop["exp"] == now + POP_LIFETIME
    assert pop["iss"] == WALLET and pop["aud"] == AUTHORIZATION_SERVER

    assert _accepted(anchor, headers) == WALLET


def test_a_pop_the_phone_signs_is_taken_and_the_attestation_names_the_phone_key() -> None:
    """Instance keys on the phone: the wallet hands out the signing input, the phone's
    key signs it, and the attestation's ``cnf`` is the phone's key."""
    provider, anchor = _provider()
    box = AccountBox("account-1", os.urandom(32))
    now = int(time.time())
    attestation_key, dpop_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    keys = InstanceKeys.of_device(box, public_jwk(attestation_key), public_jwk(dpop_key), now)
    assert keys.on_device and keys.attestation.sealed_private_key is None
    pop_input = keys.pop_input(provider, AUTHORIZATION_SERVER, now)
    der = attestation_key.sign(pop_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s_ = decode_dss_signature(der)
    pop = pop_input + "." + b64url_encode(r.to_bytes(32, "big") + s_.to_bytes(32, "big"))
    headers = keys.attestation_headers(provider, pop, now)

    assert _claims(headers[CLIENT_ATTESTATION_HEADER])["cnf"]["jwk"] == public_jwk(attestation_key)
    assert _accepted(anchor, headers) == WALLET
    dpop_input = keys.dpop_input("POST", "https://as.example/token?x=1", now=now, nonce="n-1")
    claims = json.loads(b64url_decode(dpop_input.split(".")[1]))
    assert claims["htu"] == "https://as.example/token" and claims["nonce"] == "n-1"
    header = json.loads(b64url_decode(dpop_input.split(".")[0]))
    assert header["jwk"] == public_jwk(dpop_key) and header["typ"] == "dpop+jwt"
