"""Key providers: who signs for an owner (an issuer, a verifier, the status list service),
who decrypts for an owner (an agency's key for encrypted credential requests), and how
verifiers find public keys by ``kid``.

The software provider keeps private keys wrapped by a KEK in a ``KeyRecords`` store and
unwraps them on first use. Rotation creates a new active key and retires the old one;
retired keys stay resolvable by ``kid`` so that what they signed keeps verifying.

An owner has at most one active key, whatever the number of workers: the first key and
every rotation are single-winner writes of the store (a unique index on the active key in
SQL), and a worker that loses takes the winner's key.

An owner's keys are of one kind: signing keys (``alg`` a JWS algorithm) or decryption keys
(``alg`` ``ECDH-ES``, ``core.keys.decrypter``); asking an owner for a key of the other kind
is an error (``WrongKeyKind``), so a decryption key never signs and a signing key never
agrees keys.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from core.clock import SYSTEM_CLOCK, Clock
from core.jose.algorithms import SIGNATURE_ALGORITHMS, PrivateKey, PublicKey, ec_curve
from core.jose.jwk import jwk_thumbprint, public_jwk, public_key_from_jwk
from core.keys.decrypter import (
    KEY_AGREEMENT_ALG,
    KEY_AGREEMENT_CURVE,
    Decrypter,
    SoftwareDecrypter,
)
from core.keys.signer import Signer, SoftwareSigner
from core.keys.wrapping import KeyWrapper


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


class KeyRecords(Protocol):
    """Storage port for wrapped keys (SQL in ``core.storage``, memory for unit tests)."""

    async def add_active(self, record: KeyRecord) -> bool:
        """Store ``record`` as its owner's active key unless the owner has one already
        (or the ``kid`` is taken): False then, and nothing is stored."""
        ...

    async def replace_active(self, record: KeyRecord, at: float) -> bool:
        """In one step, retire the owner's active key at ``at`` and store ``record`` as
        the active one; False (and nothing changed) when a concurrent replacement won."""
        ...

    async def by_kid(self, kid: str) -> KeyRecord | None: ...

    async def for_owner(self, owner: str) -> list[KeyRecord]:
        """All of the owner's keys, oldest first."""
        ...

    async def set_certificate_chain(self, kid: str, chain: tuple[str, ...]) -> None: ...


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


#: Concurrent rotations of one owner each retry on the key that won.
ROTATION_ATTEMPTS = 5


def _generate(alg: str) -> PrivateKey:
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == KEY_AGREEMENT_ALG:
        return ec.generate_private_key(KEY_AGREEMENT_CURVE)
    return ec.generate_private_key(ec_curve(SIGNATURE_ALGORITHMS[alg].curve))


class SoftwareKeyProvider:
    def __init__(
        self,
        records: KeyRecords,
        wrapper: KeyWrapper,
        *,
        alg: str = "ES256",
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if alg not in SIGNATURE_ALGORITHMS:
            raise ValueError(f"unsupported signing algorithm {alg}")
        self._records = records
        self._wrapper = wrapper
        self._alg = alg
        self._clock = clock
        self._signers: dict[str, SoftwareSigner] = {}
        self._decrypters: dict[str, SoftwareDecrypter] = {}

    @staticmethod
    def _context(kid: str, owner: str, alg: str) -> str:
        kind = "decryption" if alg == KEY_AGREEMENT_ALG else "signing"
        return f"idwallet-{kind}-key:{owner}:{kid}"

    def _new_record(self, owner: str, alg: str | None = None) -> KeyRecord:
        alg = alg or self._alg
        key = _generate(alg)
        jwk = public_jwk(key)
        kid = jwk_thumbprint(jwk)
        return KeyRecord(
            kid=kid,
            owner=owner,
            alg=alg,
            public_jwk=jwk,
            wrapped_private_key=self._wrapper.wrap(key, context=self._context(kid, owner, alg)),
            created_at=self._clock.now(),
        )

    async def active_record(self, owner: str) -> KeyRecord | None:
        active = [r for r in await self._records.for_owner(owner) if r.retired_at is None]
        return max(active, key=lambda r: (r.created_at, r.kid)) if active else None

    def _signer_for(self, record: KeyRecord) -> SoftwareSigner:
        cached = self._signers.get(record.kid)
        chain = record.certificate_chain or None
        if cached is None or cached.x5c != chain:
            key = self._wrapper.unwrap(
                record.wrapped_private_key,
                context=self._context(record.kid, record.owner, record.alg),
            )
            cached = SoftwareSigner(key, kid=record.kid, x5c=chain)
            self._signers[record.kid] = cached
        return cached

    def _decrypter_for(self, record: KeyRecord) -> SoftwareDecrypter:
        if record.alg != KEY_AGREEMENT_ALG:
            raise WrongKeyKind(f"the keys of {record.owner} sign; they do not decrypt")
        cached = self._decrypters.get(record.kid)
        if cached is None:
            key = self._wrapper.unwrap(
                record.wrapped_private_key,
                context=self._context(record.kid, record.owner, record.alg),
            )
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise WrongKeyKind(f"the key {record.kid} is not a key-agreement key")
            cached = SoftwareDecrypter(key, kid=record.kid)
            self._decrypters[record.kid] = cached
        return cached

    async def _active_or_first(self, owner: str, alg: str) -> KeyRecord:
        """The owner's active key; a new one of ``alg`` when the owner has none yet."""
        record = await self.active_record(owner)
        if record is None:
            candidate = self._new_record(owner, alg)
            # Several workers may get here at once on an empty database: one key wins.
            if await self._records.add_active(candidate):
                record = candidate
            else:
                record = await self.active_record(owner)
                if record is None:
                    raise RuntimeError(f"no active key for {owner} could be stored")
        return record

    async def signer(self, owner: str) -> Signer:
        record = await self._active_or_first(owner, self._alg)
        if record.alg not in SIGNATURE_ALGORITHMS:
            raise WrongKeyKind(f"the keys of {owner} decrypt; they do not sign")
        return self._signer_for(record)

    async def decrypter(self, owner: str) -> Decrypter:
        """The owner's active decryption key (ECDH-ES on P-256), created on first use."""
        return self._decrypter_for(await self._active_or_first(owner, KEY_AGREEMENT_ALG))

    async def _replace_active(self, owner: str, alg: str) -> KeyRecord:
        for _ in range(ROTATION_ATTEMPTS):
            record = self._new_record(owner, alg)
            if await self._records.replace_active(record, self._clock.now()):
                return record
        raise RuntimeError(f"the key of {owner} is being rotated by others; try again")

    async def rotate(self, owner: str) -> Signer:
        active = await self.active_record(owner)
        if active is not None and active.alg not in SIGNATURE_ALGORITHMS:
            raise WrongKeyKind(f"the keys of {owner} decrypt: rotate them with rotate_decrypter")
        return self._signer_for(await self._replace_active(owner, self._alg))

    async def rotate_decrypter(self, owner: str) -> Decrypter:
        """A new active decryption key; the old one is retired and decrypts no more."""
        active = await self.active_record(owner)
        if active is not None and active.alg != KEY_AGREEMENT_ALG:
            raise WrongKeyKind(f"the keys of {owner} sign: rotate them with rotate")
        return self._decrypter_for(await self._replace_active(owner, KEY_AGREEMENT_ALG))

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

    async def replace_active(self, record: KeyRecord, at: float) -> bool:
        if record.kid in self._records:
            return False
        for old in self._active(record.owner):
            self._records[old.kid] = replace(old, retired_at=at)
        self._records[record.kid] = replace(record, retired_at=None)
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
