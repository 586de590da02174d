"""What the database keeps of a key (``KeyRecord``) and the storage port for it.

A record names where its private key is (``location``: ``software``, wrapped under the
key-encryption key in ``wrapped_private_key``; ``pkcs11``, an object of the token found by
``key_reference``), never holding a hardware key's private part. Retired keys stay as
records, so that what they signed keeps verifying; after the overlap their private part is
destroyed (``destroyed_at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class UnknownKey(LookupError):
    """No key with that ``kid``."""


class WrongKeyKind(ValueError):
    """A signer asked of an owner whose keys decrypt, or a decrypter of one whose keys sign."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    kid: str
    owner: str
    alg: str
    public_jwk: dict[str, str]
    wrapped_private_key: bytes
    created_at: float
    retired_at: float | None = None
    certificate_chain: tuple[str, ...] = ()
    location: str = "software"
    key_reference: str = ""
    destroyed_at: float | None = None


class KeyRecords(Protocol):
    """Storage port for keys (SQL in ``core.storage``, memory for unit tests)."""

    async def add_active(self, record: KeyRecord) -> bool:
        """Store ``record`` as its owner's active key unless the owner has one already
        (or the ``kid`` is taken): False then, and nothing is stored."""
        ...

    async def replace_active(
        self, record: KeyRecord, at: float, *, replacing: str, why: str = "rotated"
    ) -> bool:
        """In one step, retire the owner's active key ``replacing`` at ``at`` and store
        ``record`` as the active one; False (and nothing changed) when ``replacing`` is no
        longer the active key (a concurrent rotation won). ``why`` (``rotated``, ``moved``)
        is what the key event of the audit trail says, written in the same step, as the
        first key's ``created`` and a destruction's ``destroyed`` are."""
        ...

    async def active(self, owner: str) -> KeyRecord | None:
        """The owner's active key (one row)."""
        ...

    async def by_kid(self, kid: str) -> KeyRecord | None: ...

    async def for_owner(self, owner: str) -> list[KeyRecord]:
        """All of the owner's keys, oldest first."""
        ...

    async def set_certificate_chain(self, kid: str, chain: tuple[str, ...]) -> None: ...

    async def retired_before(self, cutoff: float) -> list[KeyRecord]:
        """Keys retired before ``cutoff`` whose private part is not destroyed yet."""
        ...

    async def mark_destroyed(self, kid: str, at: float) -> bool:
        """Record that the private part of ``kid`` is gone (a wrapped one is erased here);
        False when it was already marked."""
        ...
