"""The wallet provider's public description (``GET /wallet/provider``)."""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from core.messages import Message


class KeyLevels(Message):
    """Appendix D.2 levels attested for keys of one custody (absent: not attested)."""

    key_storage: list[str] | UnsetType = UNSET
    user_authentication: list[str] | UnsetType = UNSET


class WalletProviderDocument(Message):
    """What an issuer's operator needs to trust this deployment's wallet: the CA to add
    to its wallet-provider trust anchors, and what attestations under it say."""

    #: The ``iss`` of the provider's attestations and this wallet's ``client_id``.
    wallet_provider: str
    wallet_name: str
    wallet_link: str
    #: The wallet-provider CA (PEM): the trust anchor for this wallet's attestations.
    certificate_authority: str
    #: The attestation signing certificate (standard base64 DER), as in the ``x5c``
    #: header of every attestation; the CA is not in it.
    x5c: list[str]
    #: Levels attested for keys this service keeps (``server``) and keys kept on the
    #: phone (``device``).
    key_attestation_levels: dict[str, KeyLevels]


WALLET_PROVIDER_EXAMPLE = WalletProviderDocument(
    wallet_provider="https://id.example.gov/wallet",
    wallet_name="idwallet",
    wallet_link="https://id.example.gov/",
    certificate_authority="-----BEGIN CERTIFICATE-----\nMIIBoTCCAUegAwIBAgIUb9efuwp1vMjg…"
    "\n-----END CERTIFICATE-----\n",
    x5c=["MIICKDCCAc6gAwIBAgIUfP5OByezS0La55cyjkqziQPRIIswCgYIKoZIzj0EAwIw…"],
    key_attestation_levels={
        "server": KeyLevels(
            key_storage=["iso_18045_basic"], user_authentication=["iso_18045_basic"]
        ),
        "device": KeyLevels(),
    },
)
