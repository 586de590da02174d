"""SQL implementations of the issuer's storage ports.

Every single-use rule is one conditional statement whose row count decides
(``UPDATE … WHERE state = 'offered'``, the compare-and-set of the offer's one move the
service checked against ``OFFER_MOVES``; ``INSERT … ON CONFLICT DO NOTHING`` of a used
``c_nonce`` or a status index), and every write transaction starts with its write, so
concurrent requests on SQLite and PostgreSQL alike end with exactly one winner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.replay import SingleUse, UsedBefore
from core.storage.driver import is_postgresql, postgres_connection
from core.storage.single_use import first_uses_in
from issuers.domain import (
    AUTHORIZATION_MOVES,
    AccessGrant,
    AuditEvent,
    AuthorizationState,
    CodeIssue,
    CredentialSelector,
    DeliveredResponse,
    IssuedCredential,
    Offer,
    OfferState,
    StatusListState,
)
from issuers.ports import GrantWork
from issuers.storage import statements
from issuers.storage.authorizations import MOVE as MOVE_AUTHORIZATION
from issuers.storage.grant_work import STATUS_LIST_SIZE, StatusPlaces, TransactionGrantWork
from issuers.storage.offer_claims import UNREDACTED_OFFERS, SealedClaims
from issuers.storage.sqlalchemy_issuance import CoreIssuanceStatements
from issuers.storage.tables import (
    GRANTS,
    OFFERS,
    RESPONSES,
    AuditRow,
    CredentialRow,
    GrantRow,
    OfferRow,
    StatusListRow,
)

Sessions = async_sessionmaker[AsyncSession]


def _engine_of(sessions: Sessions) -> AsyncEngine:
    engine: AsyncEngine = sessions.kw["bind"]
    return engine


def offer_from_row(row: Any, claims: SealedClaims) -> Offer:
    return Offer(
        offer_id=row.offer_id,
        issuer_id=row.issuer_id,
        configuration_id=row.configuration_id,
        subject_id=row.subject_id,
        claims=claims.open(row.offer_id, row.claims),
        code_hash=row.code_hash,
        tx_code_hash=row.tx_code_hash,
        tx_code_attempts=row.tx_code_attempts,
        tx_code_max_attempts=row.tx_code_max_attempts,
        state=OfferState(row.state),
        created_at=row.created_at,
        expires_at=row.expires_at,
        redeemed_at=row.redeemed_at,
        grant_type=row.grant_type,
        other_configurations=tuple(row.other_configurations.split()),
        register_read_at=row.register_read_at,
        register_read_purpose=row.register_read_purpose,
        identified_at=row.identified_at,
    )


def _credential(row: CredentialRow) -> IssuedCredential:
    return IssuedCredential(
        credential_id=row.credential_id,
        issuer_id=row.issuer_id,
        offer_id=row.offer_id,
        subject_id=row.subject_id,
        configuration_id=row.configuration_id,
        status_list_id=row.status_list_id,
        status_index=row.status_index,
        status=row.status,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        notification_id=row.notification_id,
        notification_event=row.notification_event,
    )


class SqlOfferStore:
    def __init__(self, sessions: Sessions, claims: SealedClaims) -> None:
        self._sessions = sessions
        self._engine = _engine_of(sessions)
        self._claims = claims

    async def add(self, offer: Offer, *, audit: AuditEvent | None = None) -> None:
        # Statements built once on a plain connection: a citizen's authorization and
        # every refresh add an offer and its audit entry.
        async with self._engine.begin() as connection:
            await connection.execute(statements.INSERT_OFFER, self._row(offer))
            if audit is not None:
                await connection.execute(
                    INSERT_AUDIT, dict(zip(AUDIT_COLUMNS, audit_row(audit), strict=True))
                )

    async def add_with_code(self, offer: Offer, audit: AuditEvent, code: CodeIssue) -> bool:
        async with self._engine.begin() as connection:
            moved = await connection.execute(MOVE_AUTHORIZATION, code_move(code, offer))
            if moved.rowcount != 1:
                return False
            await connection.execute(statements.INSERT_OFFER, self._row(offer))
            await connection.execute(
                INSERT_AUDIT, dict(zip(AUDIT_COLUMNS, audit_row(audit), strict=True))
            )
        return True

    def _row(self, offer: Offer) -> dict[str, Any]:
        """The offer's columns, its claims sealed."""
        return {
            "offer_id": offer.offer_id,
            "issuer_id": offer.issuer_id,
            "configuration_id": offer.configuration_id,
            "subject_id": offer.subject_id,
            "claims": self._claims.seal(offer.offer_id, offer.claims),
            "code_hash": offer.code_hash,
            "tx_code_hash": offer.tx_code_hash,
            "tx_code_attempts": offer.tx_code_attempts,
            "tx_code_max_attempts": offer.tx_code_max_attempts,
            "state": offer.state.value,
            "created_at": offer.created_at,
            "expires_at": offer.expires_at,
            "redeemed_at": offer.redeemed_at,
            "grant_type": offer.grant_type,
            "other_configurations": " ".join(offer.other_configurations),
            "register_read_at": offer.register_read_at,
            "register_read_purpose": offer.register_read_purpose,
            "identified_at": offer.identified_at,
        }

    async def count_pending(self, issuer_id: str, now: float, limit: int) -> int:
        pending = (
            select(OFFERS.c.offer_id)
            .where(
                OFFERS.c.issuer_id == issuer_id,
                UNREDACTED_OFFERS,
                OFFERS.c.state == OfferState.OFFERED.value,
                OFFERS.c.expires_at > now,
            )
            .limit(limit)
            .subquery()
        )
        async with self._engine.connect() as connection:
            counted = await connection.scalar(select(func.count()).select_from(pending))
        return int(counted or 0)

    async def note_identified(self, issuer_id: str, offer_id: str, at: float) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(OfferRow)
                .where(
                    OfferRow.offer_id == offer_id,
                    OfferRow.issuer_id == issuer_id,
                    OfferRow.identified_at.is_(None),
                )
                .values(identified_at=at)
            )

    async def get(self, issuer_id: str, offer_id: str) -> Offer | None:
        async with self._sessions() as session:
            row = await session.get(OfferRow, offer_id)
            if row is None or row.issuer_id != issuer_id:
                return None
            return offer_from_row(row, self._claims)

    async def get_by_code(self, code_hash: str) -> Offer | None:
        async with self._sessions() as session:
            row = await session.scalar(select(OfferRow).where(OfferRow.code_hash == code_hash))
            return offer_from_row(row, self._claims) if row is not None else None

    async def for_subject(self, issuer_id: str, subject_id: str) -> list[Offer]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(OfferRow)
                .where(OfferRow.issuer_id == issuer_id, OfferRow.subject_id == subject_id)
                .order_by(OfferRow.created_at)
            )
            return [offer_from_row(r, self._claims) for r in rows]

    async def reserve_tx_code_attempt(
        self, code_hash: str, issuer_id: str, now: float
    ) -> Offer | None:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(OfferRow)
                .where(
                    OfferRow.code_hash == code_hash,
                    OfferRow.issuer_id == issuer_id,
                    OfferRow.state == OfferState.OFFERED.value,
                    OfferRow.expires_at > now,
                    OfferRow.tx_code_hash.is_not(None),
                    OfferRow.tx_code_attempts < OfferRow.tx_code_max_attempts,
                )
                .values(tx_code_attempts=OfferRow.tx_code_attempts + 1)
                .returning(OfferRow)
            )
            row = result.scalars().first()
            return offer_from_row(row, self._claims) if row is not None else None

    async def redeem(self, code_hash: str, now: float, grant: AccessGrant) -> Offer | None:
        return await self._redeem(code_hash, now, grant, without_tx_code=False)

    async def redeem_without_tx_code(
        self, code_hash: str, now: float, grant: AccessGrant
    ) -> Offer | None:
        return await self._redeem(code_hash, now, grant, without_tx_code=True)

    async def _redeem(
        self, code_hash: str, now: float, grant: AccessGrant, *, without_tx_code: bool
    ) -> Offer | None:
        # Prepared Core statements on a plain connection: this is on every issuance's path.
        statement = statements.REDEEM_WITHOUT_TX_CODE if without_tx_code else statements.REDEEM
        async with self._engine.begin() as connection:
            row = (
                await connection.execute(
                    statement, {"code": code_hash, "issuer": grant.issuer_id, "now": now}
                )
            ).first()
            if row is None:
                return None
            await connection.execute(
                statements.INSERT_GRANT,
                {
                    "token_hash": grant.token_hash,
                    "offer_id": row.offer_id,
                    "issuer_id": row.issuer_id,
                    "expires_at": grant.expires_at,
                    "used": False,
                    "dpop_jkt": grant.dpop_jkt,
                },
            )
            return offer_from_row(row, self._claims)


def code_move(code: CodeIssue, offer: Offer) -> dict[str, Any]:
    """The parameters of the authorization's move to ``code_issued`` for ``offer``."""
    AUTHORIZATION_MOVES.check(code.expected, AuthorizationState.CODE_ISSUED)
    return {
        "id": code.authorization_id,
        "expected": code.expected.value,
        "now": code.now,
        "state": AuthorizationState.CODE_ISSUED.value,
        "expires_at": code.expires_at,
        "subject_id": code.subject_id,
        "code_hash": code.code_hash,
        "offer_id": offer.offer_id,
    }


class SqlGrantStore:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self._engine = _engine_of(sessions)

    async def get(self, token_hash: str) -> AccessGrant | None:
        async with self._sessions() as session:
            row = await session.get(GrantRow, token_hash)
            if row is None:
                return None
            return _grant(row)

    async def revoke_for_offer(self, offer_id: str) -> int:
        async with self._sessions.begin() as session:
            # a kept credential response is not answered again to a revoked token
            await session.execute(
                delete(RESPONSES).where(
                    RESPONSES.c.token_hash.in_(
                        select(GRANTS.c.token_hash).where(GRANTS.c.offer_id == offer_id)
                    )
                )
            )
            result = await session.execute(
                update(GrantRow)
                .where(GrantRow.offer_id == offer_id, GrantRow.used.is_(False))
                .values(used=True)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]


def _grant(row: GrantRow) -> AccessGrant:
    return AccessGrant(
        row.token_hash, row.offer_id, row.issuer_id, row.expires_at, row.used, row.dpop_jkt
    )


class SqlCredentialLedger:
    """``status_list_size``: the number of indices of each new status list (lists made
    before keep theirs)."""

    def __init__(
        self,
        sessions: Sessions,
        claims: SealedClaims,
        status_list_size: int = STATUS_LIST_SIZE,
    ) -> None:
        self._sessions = sessions
        self._engine = _engine_of(sessions)
        self._claims = claims
        self._places = StatusPlaces(status_list_size)

    @asynccontextmanager
    async def open_grant(
        self,
        token_hash: str,
        now: float,
        dpop_jkt: str | None = None,
        *,
        spend: Sequence[SingleUse] = (),
    ) -> AsyncIterator[GrantWork | None]:
        """The single-use values and then the grant are used up by the transaction's first
        statements (writes, so the transaction holds the write lock from the start on
        SQLite too); anything raised inside rolls them back and gives the grant back."""
        work: TransactionGrantWork | None = None
        async with self._engine.begin() as connection:
            refused = await first_uses_in(connection, spend, now)
            if refused is not None:
                raise UsedBefore(refused)
            used = (
                await connection.execute(
                    statements.USE_GRANT, {"hash": token_hash, "now": now, "jkt": dpop_jkt}
                )
            ).first()
            if used is None:
                yield None
                return
            offer = (
                await connection.execute(statements.OFFER_BY_ID, {"id": used.offer_id})
            ).first()
            if offer is None:
                yield None
                return
            grant = AccessGrant(
                token_hash,
                used.offer_id,
                used.issuer_id,
                used.expires_at,
                used=False,
                dpop_jkt=used.dpop_jkt,
            )
            work = TransactionGrantWork(
                CoreIssuanceStatements(connection),
                self._places,
                grant,
                offer_from_row(offer, self._claims),
                self._claims,
            )
            yield work
        # Only now, with the COMMIT done, may other transactions use places it reserved.
        if work is not None:
            work.committed()

    async def delivered_response(self, token_hash: str, now: float) -> DeliveredResponse | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(RESPONSES).where(
                        RESPONSES.c.token_hash == token_hash, RESPONSES.c.expires_at > now
                    )
                )
            ).first()
        if row is None:
            return None
        return DeliveredResponse(row.token_hash, row.fingerprint, bytes(row.sealed), row.expires_at)

    async def status_list(self, list_id: str) -> StatusListState | None:
        async with self._sessions() as session:
            row = await session.get(StatusListRow, list_id)
            if row is None:
                return None
            return StatusListState(
                list_id=row.list_id,
                issuer_id=row.issuer_id,
                bits=row.bits,
                size=row.size,
                version=row.version,
                published_token=row.published_token,
                published_version=row.published_version,
                published_at=row.published_at,
            )

    async def flagged_indices(self, list_id: str) -> dict[int, list[int]]:
        # One aggregated row per status (partial index ix_issuer_credentials_flagged):
        # a 10^7-index list with 10^5 revocations arrives as a few arrays, not 10^5 rows.
        async with self._engine.connect() as connection:
            postgres = connection.dialect.name == "postgresql"
            indices = (
                func.array_agg(CredentialRow.status_index)
                if postgres
                else func.group_concat(CredentialRow.status_index)
            )
            rows = await connection.execute(
                select(CredentialRow.status, indices)
                .where(CredentialRow.status_list_id == list_id, CredentialRow.status != 0)
                .group_by(CredentialRow.status)
            )
            if postgres:
                return {status: list(found) for status, found in rows.all()}
            return {status: list(map(int, found.split(","))) for status, found in rows.all()}

    async def publish(self, list_id: str, version: int, token: str, at: float) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(StatusListRow)
                .where(StatusListRow.list_id == list_id, StatusListRow.version == version)
                .values(published_token=token, published_version=version, published_at=at)
            )

    async def change_status(
        self,
        issuer_id: str,
        selector: CredentialSelector,
        *,
        applies_to: frozenset[int],
        new_status: int,
    ) -> tuple[list[IssuedCredential], int]:
        conditions = [CredentialRow.issuer_id == issuer_id]
        if selector.credential_id is not None:
            conditions.append(CredentialRow.credential_id == selector.credential_id)
        elif selector.subject_id is not None:
            conditions.append(CredentialRow.subject_id == selector.subject_id)
        elif selector.status_list_id is not None and selector.status_index is not None:
            conditions.append(CredentialRow.status_list_id == selector.status_list_id)
            conditions.append(CredentialRow.status_index == selector.status_index)
        else:
            raise ValueError("a selector needs a credential, a subject or a status reference")
        async with self._sessions.begin() as session:
            changed = (
                await session.scalars(
                    update(CredentialRow)
                    .where(*conditions, CredentialRow.status.in_(sorted(applies_to)))
                    .values(status=new_status)
                    .returning(CredentialRow)
                )
            ).all()
            lists = sorted({row.status_list_id for row in changed})
            if lists:
                await session.execute(
                    update(StatusListRow)
                    .where(StatusListRow.list_id.in_(lists))
                    .values(version=StatusListRow.version + 1)
                )
            selected = await session.scalar(
                select(func.count()).select_from(CredentialRow).where(*conditions)
            )
            return [_credential(r) for r in changed], int(selected or 0) - len(changed)

    async def for_subject(self, issuer_id: str, subject_id: str) -> list[IssuedCredential]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(CredentialRow)
                .where(CredentialRow.issuer_id == issuer_id, CredentialRow.subject_id == subject_id)
                .order_by(CredentialRow.issued_at)
            )
            return [_credential(r) for r in rows]

    async def record_event(self, offer_id: str, notification_id: str, event: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(CredentialRow)
                .where(
                    CredentialRow.offer_id == offer_id,
                    CredentialRow.notification_id == notification_id,
                )
                .values(notification_event=event)
            )
            updated: bool = result.rowcount > 0  # type: ignore[attr-defined]
            return updated


_AUDIT = cast(Table, AuditRow.__table__)
AUDIT_COLUMNS = ("issuer_id", "at", "actor", "action", "object_id", "outcome", "detail")
INSERT_AUDIT = insert(_AUDIT)
#: The same in the PostgreSQL driver's terms.
PG_INSERT_AUDIT = (
    f"INSERT INTO issuer_audit_events ({', '.join(AUDIT_COLUMNS)})"  # noqa: S608
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(AUDIT_COLUMNS) + 1))})"
)


def audit_row(event: AuditEvent) -> tuple[str, float, str, str, str, str, str]:
    """The columns of an audit entry, in ``AUDIT_COLUMNS`` order, each cut to its column:
    an audit entry never fails the action it records."""
    return (
        event.issuer_id,
        event.at,
        event.actor[:100],
        event.action[:64],
        event.object_id[:200],
        event.outcome[:32],
        event.detail,
    )


class SqlAuditLog:
    """Entries are written by a statement built once, on a plain connection (on
    PostgreSQL through the driver, one round trip): an authorization and a refresh write
    one each."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self._engine = _engine_of(sessions)
        self._postgres = is_postgresql(self._engine)

    async def record(self, event: AuditEvent) -> None:
        row = audit_row(event)
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                await driver.execute(PG_INSERT_AUDIT, *row)
            return
        async with self._engine.begin() as connection:
            await connection.execute(INSERT_AUDIT, dict(zip(AUDIT_COLUMNS, row, strict=True)))

    async def recent(self, issuer_id: str, limit: int) -> list[AuditEvent]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(AuditRow)
                .where(AuditRow.issuer_id == issuer_id)
                .order_by(AuditRow.id.desc())
                .limit(limit)
            )
            return [
                AuditEvent(r.issuer_id, r.at, r.actor, r.action, r.object_id, r.outcome, r.detail)
                for r in rows
            ]
