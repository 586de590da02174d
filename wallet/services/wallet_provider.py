"""The deployment as wallet provider of its citizens' wallet: wallet attestations for the
authorization code flow, and key attestations for the holder keys of a credential
request (OpenID4VCI 1.0 Appendix D.1, ``key-attestation+jwt``, profiled by HAIP 1.0
§4.5.1). Both are signed by the provider's key, whose certificate is in ``x5c`` and
chains to the wallet-provider CA; the CA itself is not in ``x5c``.

An attestation states only what this backend knows about where a key is kept
(Appendix D.2 levels, ISO/IEC 18045 attack potential):

- *server-held* keys are used only inside a request the account authenticated:
  ``iso_18045_basic`` user authentication. Their key storage is claimed per key, by how
  its private part is kept (``KeyMaterial``, read from the key's sealed material):
  a *software* key, sealed at rest under the account's data key and used in this
  process, is ``iso_18045_basic``; a key in the deployment's *HSM*, made inside it and
  kept outside only wrapped under a key that never leaves it, is what the deployment
  states of its module's certification (``hsm_key_storage``,
  ``IDWALLET_PKCS11_KEY_STORAGE``). Nothing else is claimed (no secure element). What
  the keys made now get is published (``GET /wallet/provider``) and checked against an
  issuer's requirements before anything is sent.
- *device-bound* keys are the phone's: the API receives a public key and signatures, and
  cannot know whether the phone keeps the key in a secure element or asks for a PIN or a
  fingerprint before using it. Their attestation names neither ``key_storage`` nor
  ``user_authentication``; it says only that the key belongs to an instance of this
  wallet. An issuer that requires particular levels gets no attestation for them.

A *wallet attestation* (OpenID4VCI 1.0 Appendix E, the client attestation JWT of OAuth 2.0
Attestation-Based Client Authentication, profiled by HAIP 1.0 §4.3.1) says that the key in
``cnf.jwk`` belongs to an instance of this wallet. Its ``sub`` is the client id every
instance shares (this wallet's identifier), never one of an instance; its ``cnf`` key is
made for one issuance at one issuer (``instance_keys``), so two issuers cannot link the
instance by it (HAIP 1.0: "MUST NOT be reused across different Issuers"). It lives
``WALLET_ATTESTATION_LIFETIME``: a device that is revoked simply gets no new ones.

Each key attestation covers one key, carries the issuer's ``c_nonce`` when there is one, and
lives as long as a key proof (``ATTESTATION_LIFETIME``): an issuer that requires key
attestations gets a fresh one with every proof.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from msgspec import UNSET, UnsetType

from core.client_attestation import CLIENT_ATTESTATION_TYP
from core.jose.jws import sign_compact
from core.key_attestation import KEY_ATTESTATION_TYP
from core.keys.signer import Signer
from core.oid4vci_metadata import KeyAttestationsRequired
from wallet.domain import Custody, HolderKey, KeyMaterial, Refused
from wallet.services.provider_messages import KeyLevels, WalletProviderDocument

#: Seconds an attestation is good for: as long as an issuer takes a key proof.
ATTESTATION_LIFETIME = 300
#: Seconds a wallet attestation is good for: one request at the issuer's authorization
#: server (each request gets a fresh one).
WALLET_ATTESTATION_LIFETIME = 300
#: What this backend can honestly attest of a key it keeps (Appendix D.2).
SERVER_KEY_STORAGE = ("iso_18045_basic",)
SERVER_USER_AUTHENTICATION = ("iso_18045_basic",)


@dataclass(frozen=True, slots=True)
class WalletProvider:
    """``signer``: the provider's attestation key, its certificate (under ``ca``) in x5c."""

    signer: Signer
    ca: x509.Certificate
    #: The identifier of this wallet (every instance's ``client_id``) and the provider's.
    identifier: str
    name: str
    link: str
    #: Appendix D.2 ``key_storage`` of server-held keys kept in the deployment's HSM: the
    #: attack potential its module is certified to resist (``IDWALLET_PKCS11_KEY_STORAGE``).
    #: Unless stated, no more than for software keys.
    hsm_key_storage: tuple[str, ...] = SERVER_KEY_STORAGE

    @property
    def ca_pem(self) -> str:
        return self.ca.public_bytes(Encoding.PEM).decode("ascii")

    def levels(self, custody: Custody, material: KeyMaterial | None) -> dict[str, list[str]]:
        """The Appendix D.2 levels this provider attests for a key of ``custody`` whose
        private part is kept as ``material`` (None: not known, the least is claimed)."""
        if custody is not Custody.SERVER:
            return {}
        storage = self.hsm_key_storage if material is KeyMaterial.HSM else SERVER_KEY_STORAGE
        return {
            "key_storage": list(storage),
            "user_authentication": list(SERVER_USER_AUTHENTICATION),
        }

    def unmet(
        self, custody: Custody, required: KeyAttestationsRequired, material: KeyMaterial | None
    ) -> tuple[str, ...]:
        """The kinds of level ``required`` names of which this provider attests none for
        keys of ``custody`` kept as ``material`` (§12.2.4: at least one accepted level of
        each kind named)."""
        attested = self.levels(custody, material)
        wanted = (
            ("key_storage", required.key_storage),
            ("user_authentication", required.user_authentication),
        )
        return tuple(
            kind
            for kind, accepted in wanted
            if not isinstance(accepted, UnsetType)
            and not set(accepted).intersection(attested.get(kind, ()))
        )

    def wallet_attestation(self, instance_jwk: dict[str, str], *, now: int) -> str:
        """Appendix E: this wallet's attestation of an instance key, made now."""
        claims: dict[str, Any] = {
            "iss": self.identifier,
            "sub": self.identifier,
            "iat": now,
            "exp": now + WALLET_ATTESTATION_LIFETIME,
            "cnf": {"jwk": instance_jwk},
            "wallet_name": self.name,
            "wallet_link": self.link,
        }
        return sign_compact(
            claims, self.signer, typ=CLIENT_ATTESTATION_TYP, include_kid=False, include_x5c=True
        )

    def key_attestation(
        self, key: HolderKey, material: KeyMaterial | None, *, nonce: str | None, now: int
    ) -> str:
        """Appendix D.1: the attestation of one holder key kept as ``material``, made now."""
        claims: dict[str, Any] = {
            "iss": self.identifier,
            "iat": now,
            "exp": now + ATTESTATION_LIFETIME,
            "attested_keys": [key.public_jwk],
            **self.levels(key.custody, material),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        return sign_compact(
            claims, self.signer, typ=KEY_ATTESTATION_TYP, include_kid=False, include_x5c=True
        )


def attestation_for(
    provider: WalletProvider | None,
    configuration_id: str,
    custody: Custody,
    required: KeyAttestationsRequired | None,
    server_keys_in: KeyMaterial,
) -> WalletProvider | None:
    """The provider to attest the keys of a credential the issuer asks key attestations
    for, or None where it asks none; refused before anything is sent where this wallet
    cannot give what the issuer requires of the keys it makes now (server-held ones made
    as ``server_keys_in``)."""
    if required is None:
        return None
    if provider is None:
        raise Refused(
            f"{configuration_id!r} needs key attestations, and this deployment has no wallet"
            " provider to make them"
        )
    unmet = provider.unmet(custody, required, server_keys_in if custody is Custody.SERVER else None)
    if unmet:
        where = "on this phone" if custody is Custody.DEVICE else "by this service"
        raise Refused(
            f"{configuration_id!r} needs keys whose {' and '.join(unmet)} this wallet cannot"
            f" attest for keys kept {where}"
        )
    return provider


def describe(provider: WalletProvider, server_keys_in: KeyMaterial) -> WalletProviderDocument:
    """The provider's public description, with the levels keys made now get (server-held
    ones made as ``server_keys_in``)."""
    levels = {}
    for custody in Custody:
        attested = provider.levels(custody, server_keys_in if custody is Custody.SERVER else None)
        levels[custody.value] = KeyLevels(
            key_storage=attested.get("key_storage", UNSET),
            user_authentication=attested.get("user_authentication", UNSET),
        )
    return WalletProviderDocument(
        wallet_provider=provider.identifier,
        wallet_name=provider.name,
        wallet_link=provider.link,
        certificate_authority=provider.ca_pem,
        x5c=list(provider.signer.x5c or ()),
        key_attestation_levels=levels,
    )
