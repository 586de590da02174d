"""The keys a wallet instance proves itself with at an issuer's authorization server in
the authorization code flow, and what it signs with them:

- the **attestation key**, the ``cnf`` key of the wallet attestation, which signs the
  attestation's proof of possession (OAuth 2.0 Attestation-Based Client Authentication,
  the ``oauth-client-attestation-pop+jwt`` of draft -07 §5.2 / -10 §5.1: ``aud`` the
  authorization server's issuer identifier, a fresh ``jti``, ``iat``; and ``exp``, which
  drafts up to -04 required and later ones allow as another claim: servers built on
  ``@openid4vc/oauth2`` 0.4, as Credo's issuer is, refuse a PoP without it);
- the **DPoP key**, which signs the DPoP proofs of the token request and of every request
  the access token is sent with (RFC 9449 §4.2: ``htm``, ``htu``, ``iat``, ``jti``, the
  server's ``nonce`` when it asks for one, and ``ath`` beside an access token, §4.3).

Both are made for one issuance (one issuer), so no two issuers see the same key of this
instance, and are kept as the citizen chose for the holder keys: *server-held*, made
where the deployment makes holder keys (``server_held_keys``: in software or in its HSM),
sealed under the account's data key and used only inside a request the account
authenticated, signing at once; or *device-bound*, the phone's own fresh keys, whose
proofs the phone signs when the wallet hands it their signing inputs
(``device_rounds``).
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

import msgspec

from core.client_attestation import (
    CLIENT_ATTESTATION_HEADER,
    CLIENT_ATTESTATION_POP_HEADER,
    CLIENT_ATTESTATION_POP_TYP,
)
from core.dpop.proof import DPOP_PROOF_TYPE, access_token_hash
from core.encoding import b64url_encode
from core.jose.jwk import jwk_thumbprint
from wallet.domain import Custody
from wallet.services.holder_keys import (
    HOLDER_ALGORITHM,
    KeptHolderKey,
    device_keys,
    jws_signing_input,
)
from wallet.services.sealing import AccountBox
from wallet.services.server_held_keys import ServerHeldKeys
from wallet.services.wallet_provider import WalletProvider

#: Seconds a client attestation PoP is good for (its ``exp``): one request, or the phone's
#: signing of it first.
POP_LIFETIME = 60

InstanceKeyUse = Literal["attestation", "dpop"]


def dpop_target(url: str) -> str:
    """RFC 9449 §4.2 ``htu``: the URL without query and fragment (§4.3 rule 9)."""
    return url.split("?", 1)[0].split("#", 1)[0]


class InstanceKeys(msgspec.Struct, kw_only=True):
    """The two keys of one issuance, sealed as the flow is."""

    attestation: KeptHolderKey
    dpop: KeptHolderKey

    @classmethod
    def new(cls, server_keys: ServerHeldKeys, box: AccountBox, now: float) -> InstanceKeys:
        attestation, dpop = server_keys.new_keys(box, 2, now)
        return cls(attestation=KeptHolderKey.of(attestation), dpop=KeptHolderKey.of(dpop))

    @classmethod
    def of_device(
        cls, box: AccountBox, attestation: dict[str, Any], dpop: dict[str, Any], now: float
    ) -> InstanceKeys:
        """The phone's two fresh public keys (P-256, distinct)."""
        kept = device_keys(box, [attestation, dpop], now)
        return cls(attestation=KeptHolderKey.of(kept[0]), dpop=KeptHolderKey.of(kept[1]))

    @property
    def on_device(self) -> bool:
        return self.dpop.custody is Custody.DEVICE

    def key(self, use: InstanceKeyUse) -> KeptHolderKey:
        return self.attestation if use == "attestation" else self.dpop

    def pop_input(self, provider: WalletProvider, audience: str, now: int) -> str:
        """The signing input of the attestation's proof of possession for ``audience``."""
        return jws_signing_input(
            {"alg": HOLDER_ALGORITHM, "typ": CLIENT_ATTESTATION_POP_TYP},
            {
                "iss": provider.identifier,
                "aud": audience,
                "jti": secrets.token_urlsafe(18),
                "iat": now,
                "exp": now + POP_LIFETIME,
            },
        )

    def dpop_input(
        self,
        method: str,
        url: str,
        *,
        now: int,
        nonce: str | None = None,
        access_token: str | None = None,
    ) -> str:
        """RFC 9449 §4.2: the signing input of a proof for one request to ``url``."""
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(18),
            "htm": method,
            "htu": dpop_target(url),
            "iat": now,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        header = {"alg": HOLDER_ALGORITHM, "typ": DPOP_PROOF_TYPE, "jwk": self.dpop.public_jwk}
        return jws_signing_input(header, claims)

    def sign_here(
        self, server_keys: ServerHeldKeys, box: AccountBox, use: InstanceKeyUse, signing_input: str
    ) -> str:
        """A compact JWS of ``signing_input`` by a server-held key of this instance."""
        key = self.key(use).holder_key(box.account_id, 0)
        signature = server_keys.signer(box, key).sign(signing_input.encode("ascii"))
        return signing_input + "." + b64url_encode(signature)

    def attestation_headers(self, provider: WalletProvider, pop: str, now: int) -> dict[str, str]:
        """The two headers of attestation-based client authentication: a fresh wallet
        attestation of the attestation key, and ``pop``, its proof of possession."""
        return {
            CLIENT_ATTESTATION_HEADER: provider.wallet_attestation(
                self.attestation.public_jwk, now=now
            ),
            CLIENT_ATTESTATION_POP_HEADER: pop,
        }

    @property
    def dpop_jkt(self) -> str:
        """RFC 9449 §10: the DPoP key's thumbprint, binding the authorization code to it."""
        return jwk_thumbprint(self.dpop.public_jwk)
