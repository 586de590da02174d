"""The credential request's transaction, written once over a handful of statements that
each database driver implements (SQLAlchemy Core for SQLite, PostgreSQL's own driver on
the hot path there).

Every single-use rule is one conditional statement whose row count decides: a used
``c_nonce`` and a status index are ``INSERT … ON CONFLICT DO NOTHING``, so concurrent
requests end with exactly one winner.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from core.status_list.token import StatusReference
from issuers.domain import (
    AccessGrant,
    Application,
    DeliveredResponse,
    IssuedCredential,
    NonceReused,
    Offer,
)
from issuers.ports import SignCredentials
from issuers.storage.application_records import ApplicationRecords
from issuers.storage.offer_claims import SealedClaims

STATUS_BITS = 2
STATUS_LIST_SIZE = 1 << 17
#: A list stops taking new credentials once this share of its indices is used, so that a
#: random free index is always found in a few tries.
STATUS_LIST_FILL = 0.5
MAX_INDEX_TRIES = 64
#: Places reserved on a list at a time by one process.
PLACE_BLOCK = 64
#: Expired used-nonce records are swept by one credential request in this many.
SWEEP_ONE_IN = 64


class IssuanceStatements(Protocol):
    """The statements of a credential request, on the request's open transaction."""

    async def use_nonce(self, nonce_hash: str, issuer_id: str, expires_at: float) -> bool:
        """Record a used ``c_nonce``; False if it was used before."""

    async def sweep_nonces(self, now: float) -> None:
        """Forget some used ``c_nonce`` records that have expired anyway."""

    async def reserve_places(self, list_id: str, places: int, limit: int) -> bool:
        """Count ``places`` more on the list unless that passes ``limit``."""

    async def lists_of(self, issuer_id: str) -> list[tuple[str, int]]:
        """The agency's status lists (id, size), newest first."""

    async def open_list(self, values: dict[str, Any]) -> None:
        """Add a status list unless one of that id exists."""

    async def add_credential(self, values: dict[str, Any]) -> bool:
        """Record an issued credential; False if its status index is taken."""

    async def remember_response(self, values: dict[str, Any]) -> None:
        """Keep a sealed credential response for a retry."""

    async def use_grant_for(
        self, token_hash: str, configuration_id: str, expires_at: float
    ) -> bool:
        """Record that the grant was used for this configuration; False if it was before."""

    async def grant_uses(self, token_hash: str) -> int:
        """For how many configurations the grant was used."""

    async def reopen_grant(self, token_hash: str) -> None:
        """The grant may be used again (for configurations of its offer not asked for)."""

    async def add_application(self, values: dict[str, Any]) -> None:
        """Record an application that waits for a clerk's approval."""


@dataclasses.dataclass
class PlaceBlock:
    """Places reserved on one status list by one transaction."""

    list_id: str
    size: int
    remaining: int


#: Committed blocks kept per agency; a few, so that concurrent issuances that each
#: reserved one do not waste the others' remainders.
MAX_BLOCKS = 8


class StatusPlaces:
    """Places on each agency's current status list, reserved a block at a time: the
    list's shared counter is touched once per block, not once per credential, so
    concurrent issuances do not queue on its row lock.

    A block is shared only once the transaction that reserved it has committed: before
    that, the reservation (and perhaps the list itself) may still be rolled back, by a
    failing statement or a failing COMMIT, and a credential placed on it would point at a
    list that is not counted, or does not exist."""

    def __init__(self, list_size: int = STATUS_LIST_SIZE) -> None:
        self._blocks: dict[str, list[PlaceBlock]] = {}
        self.list_size = list_size

    def take_committed(self, issuer_id: str, count: int) -> tuple[str, int] | None:
        """``count`` places from a committed block (list id and size), if one has them."""
        for block in self._blocks.get(issuer_id, ()):
            if block.remaining >= count:
                block.remaining -= count
                return block.list_id, block.size
        return None

    async def reserve(
        self, statements: IssuanceStatements, issuer_id: str, count: int
    ) -> PlaceBlock:
        """A new block in the caller's transaction, ``count`` of its places taken."""
        blocks = self._blocks.get(issuer_id)
        hint = blocks[-1] if blocks else None
        places = max(count, PLACE_BLOCK)
        list_id, size = await _active_list(statements, issuer_id, places, hint, self.list_size)
        return PlaceBlock(list_id, size, places - count)

    def share(self, issuer_id: str, block: PlaceBlock) -> None:
        """After its transaction committed: the rest of ``block`` for later issuances."""
        blocks = [b for b in self._blocks.get(issuer_id, ()) if b.remaining > 0]
        if block.remaining > 0:
            blocks.append(block)
        self._blocks[issuer_id] = blocks[-MAX_BLOCKS:]


async def _active_list(
    statements: IssuanceStatements,
    issuer_id: str,
    places: int,
    hint: PlaceBlock | None,
    new_list_size: int,
) -> tuple[str, int]:
    """The agency's newest list with room (id and size), a new one of ``new_list_size``
    when all are full enough, with ``places`` reserved on it."""

    def limit(size: int) -> int:
        return int(size * STATUS_LIST_FILL)

    if hint is not None and await statements.reserve_places(hint.list_id, places, limit(hint.size)):
        return hint.list_id, hint.size
    for _ in range(3):
        lists = await statements.lists_of(issuer_id)
        for list_id, size in lists:
            if await statements.reserve_places(list_id, places, limit(size)):
                return list_id, size
        await statements.open_list(  # or another request opened it meanwhile
            {
                "list_id": f"{issuer_id}-{len(lists) + 1:04d}",
                "issuer_id": issuer_id,
                "bits": STATUS_BITS,
                "size": new_list_size,
                "allocated": 0,
                "version": 0,
            }
        )
    raise RuntimeError("no status list could be opened")


@dataclasses.dataclass(frozen=True, slots=True)
class IssuanceTarget:
    """Whose credentials a transaction records: the agency, the offer they come from, the
    citizen and the credential configuration."""

    issuer_id: str
    offer_id: str
    subject_id: str
    configuration_id: str


class TransactionIssuance:
    """Credentials signed and recorded in a transaction the caller holds open."""

    def __init__(
        self, statements: IssuanceStatements, places: StatusPlaces, target: IssuanceTarget
    ) -> None:
        self._statements = statements
        self._places = places
        self._target = target
        self._reserved: PlaceBlock | None = None

    def committed(self) -> None:
        """The transaction committed: what is left of a block it reserved is shared."""
        if self._reserved is not None:
            self._places.share(self._target.issuer_id, self._reserved)
            self._reserved = None

    async def _use_nonces(self, nonces: list[tuple[str, float]], now: float) -> None:
        for nonce_hash, nonce_expires_at in nonces:
            if not await self._statements.use_nonce(
                nonce_hash, self._target.issuer_id, nonce_expires_at
            ):
                raise NonceReused(nonce_hash)
        if secrets.randbelow(SWEEP_ONE_IN) == 0:
            await self._statements.sweep_nonces(now)

    async def issue(
        self,
        *,
        count: int,
        now: float,
        expires_at: float,
        status_list_uri: Callable[[str], str],
        sign: SignCredentials,
        nonces: list[tuple[str, float]],
        notification_id: str | None = None,
    ) -> tuple[list[IssuedCredential], list[str]]:
        issuer_id = self._target.issuer_id
        await self._use_nonces(nonces, now)
        taken = self._places.take_committed(issuer_id, count)
        if taken is None:
            self._reserved = await self._places.reserve(self._statements, issuer_id, count)
            taken = self._reserved.list_id, self._reserved.size
        list_id, size = taken
        notification_id = notification_id or uuid.uuid4().hex
        issued = [
            await self._allocate(list_id, size, now, expires_at, notification_id)
            for _ in range(count)
        ]
        references = [StatusReference(c.status_index, status_list_uri(list_id)) for c in issued]
        credentials = sign(references)
        if len(credentials) != count:
            raise ValueError(f"{len(credentials)} credentials signed for {count} places")
        return issued, credentials

    async def _allocate(
        self, list_id: str, size: int, now: float, expires_at: float, notification_id: str
    ) -> IssuedCredential:
        """A random index no credential on this list has ever had (the unique constraint
        decides under concurrency; a collision just draws again)."""
        target = self._target
        for _ in range(MAX_INDEX_TRIES):
            credential = IssuedCredential(
                credential_id=uuid.uuid4().hex,
                issuer_id=target.issuer_id,
                offer_id=target.offer_id,
                subject_id=target.subject_id,
                configuration_id=target.configuration_id,
                status_list_id=list_id,
                status_index=secrets.randbelow(size),
                status=0,
                issued_at=now,
                expires_at=expires_at,
                notification_id=notification_id,
            )
            values = dataclasses.asdict(credential)
            if await self._statements.add_credential(values):
                return credential
        raise RuntimeError("no free status index found")


class TransactionGrantWork(TransactionIssuance):
    """A credential request's work on a grant its open transaction has used up."""

    def __init__(
        self,
        statements: IssuanceStatements,
        places: StatusPlaces,
        grant: AccessGrant,
        offer: Offer,
        claims: SealedClaims,
    ) -> None:
        super().__init__(
            statements,
            places,
            IssuanceTarget(
                offer.issuer_id, offer.offer_id, offer.subject_id, offer.configuration_id
            ),
        )
        self.grant = grant
        self.offer = offer
        self._applications = ApplicationRecords(claims)

    async def defer(self, application: Application, nonces: list[tuple[str, float]]) -> None:
        await self._use_nonces(nonces, application.created_at)
        await self._statements.add_application(self._applications.values(application))

    async def remember_response(self, response: DeliveredResponse) -> None:
        await self._statements.remember_response(dataclasses.asdict(response))

    async def use_for(self, configuration_id: str) -> bool:
        offer = self.offer
        if not offer.other_configurations:
            return True  # used up already, for its one configuration
        token_hash = self.grant.token_hash
        if not await self._statements.use_grant_for(
            token_hash, configuration_id, self.grant.expires_at
        ):
            await self._statements.reopen_grant(token_hash)  # it was open: it stays so
            return False
        if await self._statements.grant_uses(token_hash) < len(offer.configuration_ids):
            await self._statements.reopen_grant(token_hash)
        self._target = dataclasses.replace(self._target, configuration_id=configuration_id)
        return True
