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
instance, and are server-held like server-held holder keys: a P-256 key sealed under the
account's data key, opened only inside a request the account authenticated. A phone that
keeps its holder keys itself still lets the wallet service hold these two: the service is
the OAuth client, and a proof needs signing at every request it makes.
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

from core.client_attestation import (
    CLIENT_ATTESTATION_HEADER,
    CLIENT_ATTESTATION_POP_HEADER,
    CLIENT_ATTESTATION_POP_TYP,
)
from core.dpop.proof import DPOP_PROOF_TYPE, access_token_hash
from core.jose.jwk import jwk_thumbprint
from core.jose.jws import sign_compact
from wallet.services.holder_keys import KeptHolderKey, new_server_keys, server_signer
from wallet.services.sealing import AccountBox
from wallet.services.wallet_provider import WalletProvider

#: Seconds a client attestation PoP is good for (its ``exp``): one request.
POP_LIFETIME = 60


class InstanceKeys(msgspec.Struct, kw_only=True):
    """The two keys of one issuance, sealed as the flow is."""

    attestation: KeptHolderKey
    dpop: KeptHolderKey

    @classmethod
    def new(cls, box: AccountBox, now: float) -> InstanceKeys:
        attestation, dpop = new_server_keys(box, 2, now)
        return cls(attestation=KeptHolderKey.of(attestation), dpop=KeptHolderKey.of(dpop))

    def client_attestation(
        self, box: AccountBox, provider: WalletProvider, *, audience: str, now: int
    ) -> dict[str, str]:
        """The two headers of attestation-based client authentication at ``audience`` (the
        authorization server's issuer identifier): a fresh wallet attestation of the
        attestation key, and its proof of possession."""
        key = self.attestation.holder_key(box.account_id, now)
        pop = sign_compact(
            {
                "iss": provider.identifier,
                "aud": audience,
                "jti": secrets.token_urlsafe(18),
                "iat": now,
                "exp": now + POP_LIFETIME,
            },
            server_signer(box, key),
            typ=CLIENT_ATTESTATION_POP_TYP,
            include_kid=False,
        )
        return {
            CLIENT_ATTESTATION_HEADER: provider.wallet_attestation(key.public_jwk, now=now),
            CLIENT_ATTESTATION_POP_HEADER: pop,
        }

    def dpop_proof(
        self,
        box: AccountBox,
        method: str,
        url: str,
        *,
        now: int,
        nonce: str | None = None,
        access_token: str | None = None,
    ) -> str:
        """RFC 9449 §4.2: a proof for one request to ``url`` (without query or fragment,
        §4.3 rule 9)."""
        key = self.dpop.holder_key(box.account_id, now)
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(18),
            "htm": method,
            "htu": url.split("?", 1)[0].split("#", 1)[0],
            "iat": now,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        return sign_compact(
            claims,
            server_signer(box, key),
            typ=DPOP_PROOF_TYPE,
            header={"jwk": key.public_jwk},
            include_kid=False,
        )

    @property
    def dpop_jkt(self) -> str:
        """RFC 9449 §10: the DPoP key's thumbprint, binding the authorization code to it."""
        return jwk_thumbprint(self.dpop.public_jwk)
