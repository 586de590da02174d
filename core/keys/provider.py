"""Key providers: who signs for an owner (an issuer, a verifier, the status list service),
who decrypts for an owner (an agency's key for encrypted credential requests), and how
verifiers find public keys by ``kid``.

Private keys live in *vaults*: in software, wrapped by the KEK in the ``KeyRecords`` store
(``core.keys.software_vault``), or in a PKCS#11 token (``core.keys.pkcs11_vault``). A
placement names, for each owner, where its keys are made; an owner whose active key is
elsewhere (a deployment that moved its agencies' keys into the HSM) gets a new key where
the placement says, through a rotation.

Rotation creates a new active key and retires the old one; retired keys stay resolvable by
``kid`` so that what they signed keeps verifying, and their private part is destroyed after
the overlap (``destroy_retired``). An owner has at most one active key, whatever the number
of workers: the first key and every rotation are single-winner writes of the store (a
unique index on the active key in SQL, and a rotation retires only the key it replaces),
and a worker that loses takes the winner's key (a key it made for nothing is destroyed).

An owner's keys are of one kind: signing keys (``alg`` a JWS algorithm) or decryption keys
(``alg`` ``ECDH-ES``, ``core.keys.decrypter``); asking an owner for a key of the other kind
is an error (``WrongKeyKind``), so a decryption key never signs and a signing key never
agrees keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Protocol

from core.clock import SYSTEM_CLOCK, Clock
from core.jose.algorithms import SIGNATURE_ALGORITHMS, PublicKey
from core.jose.jwk import public_key_from_jwk
from core.keys.decrypter import KEY_AGREEMENT_ALG, Decrypter
from core.keys.records import KeyRecord, KeyRecords, UnknownKey, WrongKeyKind
from core.keys.signer import Signer
from core.keys.software_vault import SoftwareVault
from core.keys.unavailable import KeyStoreUnavailable
from core.keys.wrapping import KeyWrapper

__all__ = [
    "DeploymentKeyProvider",
    "KeyEvents",
    "KeyProvider",
    "KeyRecord",
    "KeyRecords",
    "KeyResolver",
    "KeyVault",
    "SoftwareKeyProvider",
    "UnknownKey",
    "WrongKeyKind",
]

log = logging.getLogger("idwallet.keys")


class KeyResolver(Protocol):
    async def resolve(self, kid: str) -> PublicKey: ...


class KeyProvider(KeyResolver, Protocol):
    async def signer(self, owner: str) -> Signer:
        """The owner's active signer, created on first use."""
        ...

    async def rotate(self, owner: str) -> Signer: ...

    async def decrypter(self, owner: str) -> Decrypter:
        """The owner's active decryption key, created on first use."""
        ...

    async def public_jwks(self, owner: str) -> list[dict[str, str]]:
        """Public JWKs (with ``kid``/``alg``) of the owner's active and retired keys."""
        ...


class KeyVault(Protocol):
    """Where private keys are made and used (``location`` names it in the records)."""

    location: str

    def new_key(self, owner: str, alg: str, at: float) -> KeyRecord: ...

    def signer(self, record: KeyRecord) -> Signer: ...

    def decrypter(self, record: KeyRecord) -> Decrypter: ...

    def destroy(self, record: KeyRecord) -> None: ...


class KeyEvents(Protocol):
    """Told of what happens to keys once it is stored (the key records write the audit
    trail's entry in the same transaction): ``action`` is ``created``, ``rotated``,
    ``moved`` or ``destroyed``; ``detail`` never holds key material."""

    async def key_event(self, owner: str, kid: str, action: str, detail: str) -> None: ...


class _NoKeyEvents:
    async def key_event(self, owner: str, kid: str, action: str, detail: str) -> None:
        return None


#: Concurrent first keys and rotations of one owner: attempts before giving up.
ROTATION_ATTEMPTS = 5


class DeploymentKeyProvider:
    def __init__(
        self,
        records: KeyRecords,
        vaults: Mapping[str, KeyVault],
        *,
        placement: Callable[[str], str] | None = None,
        alg: str = "ES256",
        clock: Clock = SYSTEM_CLOCK,
        events: KeyEvents | None = None,
    ) -> None:
        if alg not in SIGNATURE_ALGORITHMS:
            raise ValueError(f"unsupported signing algorithm {alg}")
        if "software" not in vaults:
            raise ValueError("a software vault is needed (keys made before a token was used)")
        self._records = records
        self._vaults = dict(vaults)
        self._placement = placement or (lambda owner: "software")
        self._alg = alg
        self._clock = clock
        self.events: KeyEvents = events or _NoKeyEvents()
        self._signers: dict[str, Signer] = {}
        self._decrypters: dict[str, Decrypter] = {}

    def placement(self, owner: str) -> str:
        """Where the owner's keys are made."""
        return self._placement(owner)

    def vault(self, location: str) -> KeyVault:
        vault = self._vaults.get(location)
        if vault is None:
            raise KeyStoreUnavailable(f"keys kept in {location} cannot be reached here")
        return vault

    async def active_record(self, owner: str) -> KeyRecord | None:
        return await self._records.active(owner)

    def _signer_for(self, record: KeyRecord) -> Signer:
        if record.alg not in SIGNATURE_ALGORITHMS:
            raise WrongKeyKind(f"the keys of {record.owner} decrypt; they do not sign")
        cached = self._signers.get(record.kid)
        chain = record.certificate_chain or None
        if cached is None or cached.x5c != chain:
            cached = self.vault(record.location).signer(record)
            self._signers[record.kid] = cached
        return cached

    def _decrypter_for(self, record: KeyRecord) -> Decrypter:
        if record.alg != KEY_AGREEMENT_ALG:
            raise WrongKeyKind(f"the keys of {record.owner} sign; they do not decrypt")
        cached = self._decrypters.get(record.kid)
        if cached is None:
            cached = self.vault(record.location).decrypter(record)
            self._decrypters[record.kid] = cached
        return cached

    def _discard(self, record: KeyRecord) -> None:
        """A key made for a first key or a rotation that another worker won."""
        try:
            self.vault(record.location).destroy(record)
        except KeyStoreUnavailable:
            log.warning("a key made for a lost rotation of %s stays in its token", record.owner)

    async def _first(self, owner: str, alg: str, location: str) -> KeyRecord:
        """The owner's active key; a new one of ``alg`` when the owner has none yet."""
        for _ in range(ROTATION_ATTEMPTS):
            record = await self._records.active(owner)
            if record is not None:
                return record
            candidate = self.vault(location).new_key(owner, alg, self._clock.now())
            # Several workers may get here at once on an empty database: one key wins.
            if await self._records.add_active(candidate):
                await self.events.key_event(owner, candidate.kid, "created", location)
                return candidate
            self._discard(candidate)
        raise RuntimeError(f"no active key for {owner} could be stored")

    async def _replace(self, current: KeyRecord, alg: str, location: str, why: str) -> KeyRecord:
        """Rotate ``current`` out; the winner's key when another rotation of it won."""
        candidate = self.vault(location).new_key(current.owner, alg, self._clock.now())
        if await self._records.replace_active(
            candidate, self._clock.now(), replacing=current.kid, why=why
        ):
            await self.events.key_event(
                current.owner, candidate.kid, why, f"replaces {current.kid} ({location})"
            )
            return candidate
        self._discard(candidate)
        winner = await self._records.active(current.owner)
        if winner is None:
            raise RuntimeError(f"the key of {current.owner} is being rotated by others")
        return winner

    async def signer(self, owner: str) -> Signer:
        location = self._placement(owner)
        record = await self._first(owner, self._alg, location)
        if record.alg in SIGNATURE_ALGORITHMS and record.location != location:
            record = await self._replace(record, self._alg, location, "moved")
        return self._signer_for(record)

    async def decrypter(self, owner: str) -> Decrypter:
        """The owner's active decryption key (ECDH-ES on P-256), created on first use."""
        location = self._placement(owner)
        record = await self._first(owner, KEY_AGREEMENT_ALG, location)
        if record.alg == KEY_AGREEMENT_ALG and record.location != location:
            record = await self._replace(record, KEY_AGREEMENT_ALG, location, "moved")
        return self._decrypter_for(record)

    async def rotate(self, owner: str, *, replacing: str | None = None) -> Signer:
        """A new active signing key where the placement says; concurrent rotations of the
        same key have one winner, whose key every one of them returns. With ``replacing``
        (a ``kid``), only that key is rotated: once it is no longer active, the active key
        is returned as it is (a rotation asked for on several nodes happens once)."""
        active = await self._records.active(owner)
        if active is not None and active.alg not in SIGNATURE_ALGORITHMS:
            raise WrongKeyKind(f"the keys of {owner} decrypt: rotate them with rotate_decrypter")
        if replacing is not None and (active is None or active.kid != replacing):
            if active is None:
                raise UnknownKey(replacing)
            return self._signer_for(active)
        location = self._placement(owner)
        if active is None:
            return self._signer_for(await self._first(owner, self._alg, location))
        return self._signer_for(await self._replace(active, self._alg, location, "rotated"))

    async def rotate_decrypter(self, owner: str) -> Decrypter:
        """A new active decryption key; the old one is retired and decrypts no more."""
        active = await self._records.active(owner)
        if active is not None and active.alg != KEY_AGREEMENT_ALG:
            raise WrongKeyKind(f"the keys of {owner} sign: rotate them with rotate")
        location = self._placement(owner)
        if active is None:
            return self._decrypter_for(await self._first(owner, KEY_AGREEMENT_ALG, location))
        return self._decrypter_for(
            await self._replace(active, KEY_AGREEMENT_ALG, location, "rotated")
        )

    async def destroy_retired(self, overlap: float) -> list[str]:
        """Destroy the private part of keys retired more than ``overlap`` seconds ago (their
        public keys stay, so what they signed keeps verifying); the ``kid``s destroyed. A
        token that cannot be reached now leaves its keys for the next pass."""
        destroyed = []
        for record in await self._records.retired_before(self._clock.now() - overlap):
            try:
                self.vault(record.location).destroy(record)
            except KeyStoreUnavailable as exc:
                log.warning("retired key of %s not destroyed yet: %s", record.owner, exc.reason)
                continue
            if await self._records.mark_destroyed(record.kid, self._clock.now()):
                self._signers.pop(record.kid, None)
                self._decrypters.pop(record.kid, None)
                await self.events.key_event(record.owner, record.kid, "destroyed", record.location)
                destroyed.append(record.kid)
        return destroyed

    async def attach_certificate_chain(self, kid: str, chain: tuple[str, ...]) -> None:
        await self._records.set_certificate_chain(kid, chain)

    async def resolve(self, kid: str) -> PublicKey:
        record = await self._records.by_kid(kid)
        if record is None or record.alg not in SIGNATURE_ALGORITHMS:
            raise UnknownKey(kid)  # a decryption key verifies no signature
        return public_key_from_jwk(record.public_jwk)

    async def public_jwks(self, owner: str) -> list[dict[str, str]]:
        return [
            {
                **r.public_jwk,
                "kid": r.kid,
                "alg": r.alg,
                "use": "enc" if r.alg == KEY_AGREEMENT_ALG else "sig",
            }
            for r in await self._records.for_owner(owner)
        ]


class SoftwareKeyProvider(DeploymentKeyProvider):
    """Every key in software, wrapped under ``wrapper`` (the embedded default)."""

    def __init__(
        self,
        records: KeyRecords,
        wrapper: KeyWrapper,
        *,
        alg: str = "ES256",
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(records, {"software": SoftwareVault(wrapper)}, alg=alg, clock=clock)


class InMemoryKeyRecords:
    """The memory implementation of ``KeyRecords`` (unit tests, single-process tools)."""

    def __init__(self) -> None:
        self._records: dict[str, KeyRecord] = {}

    def _active(self, owner: str) -> list[KeyRecord]:
        return [r for r in self._records.values() if r.owner == owner and r.retired_at is None]

    async def add_active(self, record: KeyRecord) -> bool:
        if record.kid in self._records or self._active(record.owner):
            return False
        self._records[record.kid] = replace(record, retired_at=None)
        return True

    async def replace_active(
        self, record: KeyRecord, at: float, *, replacing: str, why: str = "rotated"
    ) -> bool:
        active = self._active(record.owner)
        if record.kid in self._records or [r.kid for r in active] != [replacing]:
            return False
        self._records[replacing] = replace(active[0], retired_at=at)
        self._records[record.kid] = replace(record, retired_at=None)
        return True

    async def active(self, owner: str) -> KeyRecord | None:
        active = self._active(owner)
        return active[0] if active else None

    async def retired_before(self, cutoff: float) -> list[KeyRecord]:
        return [
            r
            for r in self._records.values()
            if r.retired_at is not None and r.retired_at < cutoff and r.destroyed_at is None
        ]

    async def mark_destroyed(self, kid: str, at: float) -> bool:
        record = self._records.get(kid)
        if record is None or record.destroyed_at is not None:
            return False
        self._records[kid] = replace(record, destroyed_at=at, wrapped_private_key=b"")
        return True

    async def by_kid(self, kid: str) -> KeyRecord | None:
        return self._records.get(kid)

    async def for_owner(self, owner: str) -> list[KeyRecord]:
        return sorted(
            (r for r in self._records.values() if r.owner == owner),
            key=lambda r: (r.created_at, r.kid),
        )

    async def set_certificate_chain(self, kid: str, chain: tuple[str, ...]) -> None:
        record = self._records.get(kid)
        if record is None:
            raise UnknownKey(kid)
        self._records[kid] = replace(record, certificate_chain=chain)
