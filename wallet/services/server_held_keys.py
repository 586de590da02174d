"""Server-held holder keys: where new ones are made, and which vault signs with each.

New keys are made where the deployment keeps holder keys (``IDWALLET_KEY_PROVIDER_HOLDER``):
in software, or in its hardware security module (HSM), which makes them inside and hands
them out only wrapped under a key it never lets out. Either way what the vault hands out
is sealed under the account's data key (``AccountBox``, AES-256-GCM, bound to the account
and the key's id): a stolen database row signs nothing without the account's key, and a
key in the HSM nothing without the HSM as well.

The first byte of what is sealed says what it is, so every key signs where it was made
whatever the deployment makes now (keys made before a switch keep signing):

- ``0x30``, the DER SEQUENCE tag of a PKCS#8 ``PrivateKeyInfo`` (RFC 5958): a software
  key, sealed so since the first release, unchanged;
- ``0x01``: a key in the HSM, followed by the HSM vault's kept bytes (the wrapping key's
  label and the wrapped key).

A key in the HSM where the HSM does not answer, or where this deployment names none,
signs nothing: ``KeyStoreUnavailable``, answered 503 with ``Retry-After``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from core.keys.signer import Signer
from core.keys.unavailable import KeyStoreUnavailable
from wallet.domain import Custody, HolderKey, KeyMaterial
from wallet.ports import HolderKeyVault
from wallet.services.sealing import AccountBox
from wallet.services.software_holder_keys import SoftwareHolderKeys

#: What the seal of a server-held key is bound to (with the account and the key's id).
SEALED_KIND = "holder key"
#: The first byte of the sealed material, by kind.
PKCS8_TAG = 0x30
HSM_TAG = 0x01


def material_bytes(material: KeyMaterial, kept: bytes) -> bytes:
    """What is sealed of a key: a software key's PKCS#8 as it is (its own first byte says
    so), a key in the HSM tagged."""
    if material is KeyMaterial.SOFTWARE:
        if kept[:1] != bytes([PKCS8_TAG]):
            raise ValueError("a software holder key is not PKCS#8 DER")
        return kept
    return bytes([HSM_TAG]) + kept


def read_material(sealed_payload: bytes) -> tuple[KeyMaterial, bytes]:
    """The kind of an opened key's material and the vault's kept bytes."""
    tag = sealed_payload[:1]
    if tag == bytes([PKCS8_TAG]):
        return KeyMaterial.SOFTWARE, sealed_payload
    if tag == bytes([HSM_TAG]):
        return KeyMaterial.HSM, sealed_payload[1:]
    raise ValueError("a server-held holder key of an unknown kind")


@dataclass(frozen=True, slots=True)
class ServerHeldKeys:
    """The vaults of server-held keys: software always, the HSM where the deployment has
    one; ``new_in`` makes the new keys."""

    software: HolderKeyVault = field(default_factory=SoftwareHolderKeys)
    hsm: HolderKeyVault | None = None
    new_in: KeyMaterial = KeyMaterial.SOFTWARE

    def __post_init__(self) -> None:
        if self.new_in is KeyMaterial.HSM and self.hsm is None:
            raise ValueError("holder keys cannot be made in an HSM the deployment has not")

    def _vault(self, material: KeyMaterial) -> HolderKeyVault:
        if material is KeyMaterial.SOFTWARE:
            return self.software
        if self.hsm is None:
            raise KeyStoreUnavailable(
                "a holder key is kept in an HSM this deployment does not name"
            )
        return self.hsm

    def new_keys(self, box: AccountBox, count: int, now: float) -> list[HolderKey]:
        """``count`` fresh keys of the account, made where new keys are made."""
        vault = self._vault(self.new_in)
        keys = []
        for _ in range(count):
            jwk, kept = vault.new_key()
            key_id = str(uuid.uuid4())
            sealed = box.seal_bytes(SEALED_KIND, key_id, material_bytes(self.new_in, kept))
            keys.append(HolderKey(key_id, box.account_id, Custody.SERVER, jwk, sealed, now))
        return keys

    def _opened(self, box: AccountBox, key: HolderKey) -> tuple[KeyMaterial, bytes]:
        if key.custody is not Custody.SERVER or key.sealed_private_key is None:
            raise ValueError("not a server-held key")
        return read_material(box.open_bytes(SEALED_KIND, key.holder_key_id, key.sealed_private_key))

    def material_of(self, box: AccountBox, key: HolderKey) -> KeyMaterial | None:
        """How the key is kept; None for a key on the phone."""
        if key.custody is Custody.DEVICE:
            return None
        return self._opened(box, key)[0]

    def signer(self, box: AccountBox, key: HolderKey) -> Signer:
        """The signer of a server-held key, by the vault that made it."""
        material, kept = self._opened(box, key)
        return self._vault(material).signer(kept, key.public_jwk, key.holder_key_id)
