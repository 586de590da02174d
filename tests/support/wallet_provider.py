"""A throwaway wallet provider for tests: its own root CA, an attestation-signing
certificate under it, and the two JWTs a wallet instance presents to authenticate
(OAuth 2.0 Attestation-Based Client Authentication draft -07; OpenID4VCI 1.0 Appendix E):
the Client Attestation and its PoP."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from core.client_attestation import (
    CLIENT_ATTESTATION_HEADER,
    CLIENT_ATTESTATION_POP_HEADER,
    CLIENT_ATTESTATION_POP_TYP,
    CLIENT_ATTESTATION_TYP,
)
from core.jose.jws import sign_compact
from core.keys.signer import SoftwareSigner
from core.keys.x509 import (
    AccessCertificateRequest,
    create_trust_anchor,
    issue_access_certificate,
    to_x5c,
)

PROVIDER = "https://wallet-provider.example.eu"
CLIENT_ID = "https://wallet.example.eu"


class WalletProvider:
    """A root CA and an attestation-signing certificate (valid from ``now``)."""

    def __init__(
        self, organization: str = "Example Wallet Provider", *, now: dt.datetime | None = None
    ) -> None:
        self.now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
        #: attestations dated ``now`` when given, else when made: a provider made at
        #: import time must not hand out expired attestations an hour into a long run
        self._dated = now is not None
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = create_trust_anchor(
            SoftwareSigner(self.root_key), common_name=f"{organization} Root", now=self.now
        )
        key = ec.generate_private_key(ec.SECP256R1())
        self.certificate = issue_access_certificate(
            AccessCertificateRequest(
                common_name="Wallet Attestation Signer", organization=organization, uris=(PROVIDER,)
            ),
            key.public_key(),
            anchor_signer=SoftwareSigner(self.root_key),
            anchor=self.root,
            now=self.now,
        )
        self.signer = SoftwareSigner(key, x5c=to_x5c([self.certificate]))

    def attest(
        self,
        instance: SoftwareSigner,
        *,
        header: dict[str, Any] | None = None,
        typ: str = CLIENT_ATTESTATION_TYP,
        **claims: Any,
    ) -> str:
        """A Client Attestation for ``instance`` (claims set to None are left out)."""
        now = int(self.now.timestamp() if self._dated else time.time())
        payload: dict[str, Any] = {
            "iss": PROVIDER,
            "sub": CLIENT_ID,
            "iat": now - 60,
            "exp": now + 3600,
            "wallet_name": "Citizen Wallet",
            "wallet_link": "https://wallet.example.eu/about",
            "status": {"status_list": {"idx": 7, "uri": "https://wallet-provider.example.eu/st/1"}},
            "cnf": {"jwk": instance.public_jwk()},
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        return sign_compact(
            payload, self.signer, typ=typ, include_kid=False, include_x5c=True, header=header
        )


def new_instance() -> SoftwareSigner:
    """A wallet instance's key (the attestation's ``cnf``)."""
    return SoftwareSigner(ec.generate_private_key(ec.SECP256R1()))


def pop(
    signer: SoftwareSigner,
    *,
    audience: str,
    issued_at: float,
    typ: str = CLIENT_ATTESTATION_POP_TYP,
    **claims: Any,
) -> str:
    """A Client Attestation PoP for ``audience`` (claims set to None are left out)."""
    payload: dict[str, Any] = {"aud": audience, "jti": str(uuid.uuid4()), "iat": int(issued_at)}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return sign_compact(payload, signer, typ=typ, include_kid=False)


def attestation_headers(
    provider: WalletProvider, instance: SoftwareSigner, *, audience: str, issued_at: float
) -> dict[str, str]:
    """The two headers a wallet authenticates a request to ``audience`` with."""
    return {
        CLIENT_ATTESTATION_HEADER: provider.attest(instance),
        CLIENT_ATTESTATION_POP_HEADER: pop(instance, audience=audience, issued_at=issued_at),
    }
