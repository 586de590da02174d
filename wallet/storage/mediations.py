"""SQL implementation of the ``Mediations`` port (docs/mediators.md).

A citizen's consent claims the help request with one conditional update (unexpired, not
claimed yet): its row count decides, so one code starts one mediation whatever number of
workers are asked at once. Every use of a mediation token reads the mediation's row, so a
mediation the citizen ended is refused by every worker from that moment.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wallet.domain import HelpRequest, Mediation, MediationSpace, Mediator
from wallet.storage.mediation_tables import (
    HelpRequestRow,
    MediationRow,
    MediationSpaceRow,
    MediatorRow,
)

Sessions = async_sessionmaker[AsyncSession]
#: Ended or expired mediations are forgotten this long after (the activity log keeps
#: what was done).
KEPT_AFTER_END = 24 * 3600


def _languages(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split(",") if part)


def _mediator(mediator: MediatorRow, space: MediationSpaceRow) -> Mediator:
    return Mediator(
        mediator.mediator_id,
        mediator.name,
        _languages(mediator.languages),
        MediationSpace(space.space_id, space.name, _languages(space.languages)),
    )


def _mediation(row: MediationRow, mediator: Mediator) -> Mediation:
    return Mediation(
        row.mediation_id, row.account_id, mediator, row.started_at, row.expires_at, row.ended_at
    )


_WITH_MEDIATOR = (
    select(MediationRow, MediatorRow, MediationSpaceRow)
    .join(MediatorRow, MediatorRow.mediator_id == MediationRow.mediator_id)
    .join(MediationSpaceRow, MediationSpaceRow.space_id == MediatorRow.space_id)
)


class SqlMediations:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add_space(self, space: MediationSpace) -> bool:
        try:
            async with self._sessions.begin() as session:
                session.add(
                    MediationSpaceRow(
                        space_id=space.space_id,
                        name=space.name,
                        languages=",".join(space.languages),
                        created_at=time.time(),
                    )
                )
        except IntegrityError:
            return False
        return True

    async def add_mediator(
        self, mediator_id: str, space_id: str, name: str, languages: Sequence[str], key_hash: str
    ) -> bool:
        try:
            async with self._sessions.begin() as session:
                if await session.get(MediationSpaceRow, space_id) is None:
                    return False
                session.add(
                    MediatorRow(
                        mediator_id=mediator_id,
                        space_id=space_id,
                        name=name,
                        languages=",".join(languages),
                        key_hash=key_hash,
                        created_at=time.time(),
                    )
                )
        except IntegrityError:
            return False
        return True

    async def _mediator(self, session: AsyncSession, mediator_id: str) -> Mediator | None:
        row = (
            await session.execute(
                select(MediatorRow, MediationSpaceRow)
                .join(MediationSpaceRow, MediationSpaceRow.space_id == MediatorRow.space_id)
                .where(MediatorRow.mediator_id == mediator_id)
            )
        ).first()
        return None if row is None else _mediator(row[0], row[1])

    async def mediator_by_key(self, key_hash: str) -> Mediator | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(MediatorRow, MediationSpaceRow)
                    .join(MediationSpaceRow, MediationSpaceRow.space_id == MediatorRow.space_id)
                    .where(MediatorRow.key_hash == key_hash, MediatorRow.removed_at.is_(None))
                )
            ).first()
            return None if row is None else _mediator(row[0], row[1])

    async def replace_mediator_key(self, mediator_id: str, key_hash: str, now: float) -> bool:
        async with self._sessions.begin() as session:
            replaced = await session.execute(
                update(MediatorRow)
                .where(MediatorRow.mediator_id == mediator_id, MediatorRow.removed_at.is_(None))
                .values(key_hash=key_hash)
            )
            if not replaced.rowcount:  # type: ignore[attr-defined]
                return False
            await self._expire_help_requests(session, mediator_id, now)
            return True

    async def remove_mediator(
        self, mediator_id: str, now: float
    ) -> tuple[Mediator, list[Mediation]] | None:
        async with self._sessions.begin() as session:
            removed = await session.execute(
                update(MediatorRow)
                .where(MediatorRow.mediator_id == mediator_id, MediatorRow.removed_at.is_(None))
                .values(key_hash=None, removed_at=now)
            )
            if not removed.rowcount:  # type: ignore[attr-defined]
                return None
            await self._expire_help_requests(session, mediator_id, now)
            ended = (
                await session.execute(
                    update(MediationRow)
                    .where(
                        MediationRow.mediator_id == mediator_id,
                        MediationRow.ended_at.is_(None),
                        MediationRow.expires_at > now,
                    )
                    .values(ended_at=now)
                    .returning(MediationRow.mediation_id)
                )
            ).all()
            mediator = await self._mediator(session, mediator_id)
            assert mediator is not None  # updated above, in this transaction
            rows = (
                await session.scalars(
                    select(MediationRow).where(MediationRow.mediation_id.in_([r[0] for r in ended]))
                )
            ).all()
            return mediator, [_mediation(row, mediator) for row in rows]

    @staticmethod
    async def _expire_help_requests(session: AsyncSession, mediator_id: str, now: float) -> None:
        """The mediator's help requests no citizen consented to yet can no longer be."""
        await session.execute(
            update(HelpRequestRow)
            .where(
                HelpRequestRow.mediator_id == mediator_id,
                HelpRequestRow.account_id.is_(None),
                HelpRequestRow.expires_at > now,
            )
            .values(expires_at=now)
        )

    async def spaces(self) -> list[tuple[MediationSpace, list[Mediator]]]:
        async with self._sessions() as session:
            spaces = (
                await session.scalars(
                    select(MediationSpaceRow).order_by(MediationSpaceRow.space_id)
                )
            ).all()
            mediators = (
                await session.scalars(
                    select(MediatorRow)
                    .where(MediatorRow.removed_at.is_(None))
                    .order_by(MediatorRow.mediator_id)
                )
            ).all()
        listed = []
        for space in spaces:
            members = [_mediator(m, space) for m in mediators if m.space_id == space.space_id]
            listed.append(
                (MediationSpace(space.space_id, space.name, _languages(space.languages)), members)
            )
        return listed

    async def add_help_request(
        self,
        request_id: str,
        mediator_id: str,
        *,
        code_hash: str,
        token_hash: str,
        expires_at: float,
        answer_hash: str | None = None,
        transaction_id: str | None = None,
    ) -> None:
        async with self._sessions.begin() as session:
            session.add(
                HelpRequestRow(
                    request_id=request_id,
                    mediator_id=mediator_id,
                    code_hash=code_hash,
                    token_hash=token_hash,
                    expires_at=expires_at,
                    mode="wallet" if answer_hash is None else "national_id",
                    answer_hash=answer_hash,
                    transaction_id=transaction_id,
                )
            )

    async def _help_request(self, session: AsyncSession, row: HelpRequestRow) -> HelpRequest:
        mediator = await self._mediator(session, row.mediator_id)
        assert mediator is not None  # a foreign key
        return HelpRequest(
            row.request_id,
            mediator,
            row.expires_at,
            row.mediation_id,
            row.mode,
            row.transaction_id,
        )

    async def help_request(self, mediator_id: str, request_id: str) -> HelpRequest | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(HelpRequestRow).where(
                    HelpRequestRow.request_id == request_id,
                    HelpRequestRow.mediator_id == mediator_id,
                )
            )
            return None if row is None else await self._help_request(session, row)

    async def withdraw_help_request(self, mediator_id: str, request_id: str, now: float) -> bool:
        async with self._sessions.begin() as session:
            withdrawn = await session.execute(
                update(HelpRequestRow)
                .where(
                    HelpRequestRow.request_id == request_id,
                    HelpRequestRow.mediator_id == mediator_id,
                    HelpRequestRow.account_id.is_(None),
                    HelpRequestRow.expires_at > now,
                )
                .values(expires_at=now)
                .returning(HelpRequestRow.request_id)
            )
            return withdrawn.first() is not None

    async def help_request_by_code(self, code_hash: str, now: float) -> HelpRequest | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(HelpRequestRow).where(
                    HelpRequestRow.code_hash == code_hash,
                    HelpRequestRow.mode == "wallet",
                    HelpRequestRow.expires_at > now,
                    HelpRequestRow.account_id.is_(None),
                )
            )
            return None if row is None else await self._help_request(session, row)

    async def consent(
        self, code_hash: str, account_id: str, mediation_id: str, *, now: float, lifetime: float
    ) -> Mediation | None:
        return await self._claim(
            (HelpRequestRow.code_hash == code_hash, HelpRequestRow.mode == "wallet"),
            account_id,
            mediation_id,
            now=now,
            lifetime=lifetime,
        )

    async def consent_by_answer(
        self, answer_hash: str, account_id: str, mediation_id: str, *, now: float, lifetime: float
    ) -> Mediation | None:
        return await self._claim(
            (HelpRequestRow.answer_hash == answer_hash,),
            account_id,
            mediation_id,
            now=now,
            lifetime=lifetime,
        )

    async def _claim(
        self,
        which: tuple[Any, ...],
        account_id: str,
        mediation_id: str,
        *,
        now: float,
        lifetime: float,
    ) -> Mediation | None:
        async with self._sessions.begin() as session:
            claimed = await session.execute(
                update(HelpRequestRow)
                .where(
                    *which,
                    HelpRequestRow.expires_at > now,
                    HelpRequestRow.account_id.is_(None),
                )
                .values(account_id=account_id, mediation_id=mediation_id)
                .returning(HelpRequestRow.mediator_id, HelpRequestRow.token_hash)
            )
            won = claimed.first()
            if won is None:
                return None
            mediator_id, token_hash = won
            row = MediationRow(
                mediation_id=mediation_id,
                account_id=account_id,
                mediator_id=mediator_id,
                token_hash=token_hash,
                started_at=now,
                expires_at=now + lifetime,
                ended_at=None,
            )
            session.add(row)
            mediator = await self._mediator(session, mediator_id)
            assert mediator is not None  # a foreign key
            return _mediation(row, mediator)

    async def _one(self, *conditions: object) -> Mediation | None:
        async with self._sessions() as session:
            row = (await session.execute(_WITH_MEDIATOR.where(*conditions))).first()  # type: ignore[arg-type]
            return None if row is None else _mediation(row[0], _mediator(row[1], row[2]))

    async def mediation_by_token(self, token_hash: str) -> Mediation | None:
        return await self._one(MediationRow.token_hash == token_hash)

    async def mediation(self, mediation_id: str) -> Mediation | None:
        return await self._one(MediationRow.mediation_id == mediation_id)

    async def live_mediations(self, account_id: str, now: float) -> list[Mediation]:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    _WITH_MEDIATOR.where(
                        MediationRow.account_id == account_id,
                        MediationRow.ended_at.is_(None),
                        MediationRow.expires_at > now,
                    ).order_by(MediationRow.started_at)
                )
            ).all()
            return [_mediation(r[0], _mediator(r[1], r[2])) for r in rows]

    async def end(
        self,
        mediation_id: str,
        now: float,
        *,
        account_id: str | None = None,
        mediator_id: str | None = None,
    ) -> bool:
        conditions = [
            MediationRow.mediation_id == mediation_id,
            MediationRow.ended_at.is_(None),
            MediationRow.expires_at > now,
        ]
        if account_id is not None:
            conditions.append(MediationRow.account_id == account_id)
        if mediator_id is not None:
            conditions.append(MediationRow.mediator_id == mediator_id)
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(MediationRow).where(*conditions).values(ended_at=now)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def purge(self, now: float) -> int:
        async with self._sessions.begin() as session:
            requests = await session.execute(
                delete(HelpRequestRow).where(HelpRequestRow.expires_at < now - KEPT_AFTER_END)
            )
            mediations = await session.execute(
                delete(MediationRow).where(
                    or_(
                        MediationRow.expires_at < now - KEPT_AFTER_END,
                        MediationRow.ended_at < now - KEPT_AFTER_END,
                    )
                )
            )
            return int(requests.rowcount) + int(mediations.rowcount)  # type: ignore[attr-defined]
