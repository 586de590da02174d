"""The notifications, push subscriptions and status-list watching on SQLAlchemy (SQLite
and PostgreSQL alike). What is decided under concurrency is decided by one statement's
row count: a lease is taken by an ``UPDATE`` of an expired (or one's own) lease or by the
``INSERT`` of the first one; a list's new version is recorded by an ``UPDATE`` on the
version seen before (``IS NOT DISTINCT FROM``: the first version too), with the
credentials it concerns marked in the same transaction; a credential's status is told by
an ``UPDATE`` on what was told before and on its mark, an expiry notice by one on its
stage, each with the notification and activity entry it writes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wallet.domain import (
    ExpiryDue,
    Notice,
    NotificationKind,
    PendingWatch,
    StoredNotification,
    StoredPushSubscription,
    WatchedList,
)
from wallet.storage.notification_tables import (
    CredentialWatchRow,
    NotificationRow,
    PushSubscriptionRow,
    StatusListRow,
    StatusWatchRow,
    TaskLeaseRow,
)
from wallet.storage.tables import ActivityRow, CredentialRow

Sessions = async_sessionmaker[AsyncSession]
#: Keys asked for in one ``IN (…)``: well within every engine's bound on parameters.
_CHUNK = 500


def expiry_plan(
    old: tuple[float | None, int] | None,
    expires_at: float | None,
    first_notice_at: float | None,
    now: float,
) -> tuple[int, float | None]:
    """The expiry notice stage and when the next notice is due, for a credential indexed
    at ``now`` (``old``: the expiry and stage it was indexed with before). The stage a
    credential reached stays unless its new ``exp`` is later (a renewal with the same
    ``exp`` is not told of again); an early notice already past when it is stored is
    left out (the citizen has just received it)."""
    if expires_at is None:
        return 0, None
    if old is not None and old[0] is not None and expires_at <= old[0]:
        stage = old[1]
    else:
        stage = 0 if first_notice_at is not None and first_notice_at > now else 1
    return stage, {0: first_notice_at, 1: expires_at}.get(stage)


def _notification_row(notification: StoredNotification) -> NotificationRow:
    return NotificationRow(
        notification_id=notification.notification_id,
        account_id=notification.account_id,
        at=notification.at,
        kind=notification.kind.value,
        read_at=notification.read_at,
        sealed=notification.sealed,
    )


def _add_notice(session: AsyncSession, notice: Notice) -> None:
    session.add(_notification_row(notice.notification))
    entry = notice.activity
    if entry is not None:
        session.add(
            ActivityRow(
                entry_id=entry.entry_id,
                account_id=entry.account_id,
                at=entry.at,
                kind=entry.kind.value,
                sealed=entry.sealed,
            )
        )


def _notification(row: NotificationRow) -> StoredNotification:
    return StoredNotification(
        row.notification_id,
        row.account_id,
        row.at,
        NotificationKind(row.kind),
        row.read_at,
        row.sealed,
    )


class SqlNotifications:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(self, notification: StoredNotification) -> None:
        async with self._sessions.begin() as session:
            session.add(_notification_row(notification))

    async def page(
        self, account_id: str, limit: int, before: str | None = None
    ) -> list[StoredNotification]:
        async with self._sessions() as session:
            query = select(NotificationRow).where(NotificationRow.account_id == account_id)
            if before is not None:
                cursor = await session.get(NotificationRow, before)
                if cursor is None or cursor.account_id != account_id:
                    return []
                query = query.where(
                    or_(
                        NotificationRow.at < cursor.at,
                        (NotificationRow.at == cursor.at)
                        & (NotificationRow.notification_id > cursor.notification_id),
                    )
                )
            rows = await session.execute(
                query.order_by(NotificationRow.at.desc(), NotificationRow.notification_id).limit(
                    limit
                )
            )
            return [_notification(r) for (r,) in rows]

    async def since(self, account_id: str, at: float, limit: int) -> list[StoredNotification]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(NotificationRow)
                .where(NotificationRow.account_id == account_id, NotificationRow.at >= at)
                .order_by(NotificationRow.at, NotificationRow.notification_id)
                .limit(limit)
            )
            return [_notification(r) for (r,) in rows]

    async def unread(self, account_id: str) -> int:
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(NotificationRow)
                .where(NotificationRow.account_id == account_id, NotificationRow.read_at.is_(None))
            )
            return int(count or 0)

    async def get(self, account_id: str, notification_id: str) -> StoredNotification | None:
        async with self._sessions() as session:
            row = await session.get(NotificationRow, notification_id)
            if row is None or row.account_id != account_id:
                return None
            return _notification(row)

    async def mark_read(self, account_id: str, notification_id: str, at: float) -> bool:
        async with self._sessions.begin() as session:
            await session.execute(
                update(NotificationRow)
                .where(
                    NotificationRow.notification_id == notification_id,
                    NotificationRow.account_id == account_id,
                    NotificationRow.read_at.is_(None),
                )
                .values(read_at=at)
            )
            owned = await session.scalar(
                select(func.count())
                .select_from(NotificationRow)
                .where(
                    NotificationRow.notification_id == notification_id,
                    NotificationRow.account_id == account_id,
                )
            )
            return bool(owned)

    async def mark_all_read(self, account_id: str, at: float) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(NotificationRow)
                .where(NotificationRow.account_id == account_id, NotificationRow.read_at.is_(None))
                .values(read_at=at)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]


class SqlPushSubscriptions:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(self, subscription: StoredPushSubscription, cap: int) -> bool:
        async with self._sessions.begin() as session:
            held = await session.scalar(
                select(func.count())
                .select_from(PushSubscriptionRow)
                .where(
                    PushSubscriptionRow.account_id == subscription.account_id,
                    PushSubscriptionRow.endpoint_key != subscription.endpoint_key,
                )
            )
            if int(held or 0) >= cap:
                return False  # decided before anything is changed
            # the same browser subscribing again (under this account or another): its
            # endpoint now belongs to this subscription alone
            await session.execute(
                delete(PushSubscriptionRow).where(
                    PushSubscriptionRow.endpoint_key == subscription.endpoint_key
                )
            )
            session.add(
                PushSubscriptionRow(
                    subscription_id=subscription.subscription_id,
                    account_id=subscription.account_id,
                    endpoint_key=subscription.endpoint_key,
                    device_id=subscription.device_id,
                    sealed=subscription.sealed,
                    created_at=subscription.created_at,
                )
            )
            return True

    async def list(self, account_id: str) -> list[StoredPushSubscription]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(PushSubscriptionRow)
                .where(PushSubscriptionRow.account_id == account_id)
                .order_by(PushSubscriptionRow.created_at)
            )
            return [
                StoredPushSubscription(
                    r.subscription_id,
                    r.account_id,
                    r.endpoint_key,
                    r.sealed,
                    r.created_at,
                    r.device_id,
                )
                for (r,) in rows
            ]

    async def delete(self, account_id: str, subscription_id: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(PushSubscriptionRow).where(
                    PushSubscriptionRow.subscription_id == subscription_id,
                    PushSubscriptionRow.account_id == account_id,
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete_for_device(self, account_id: str, device_id: str) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(PushSubscriptionRow).where(
                    PushSubscriptionRow.account_id == account_id,
                    PushSubscriptionRow.device_id == device_id,
                )
            )
            return int(result.rowcount)  # type: ignore[attr-defined]


class SqlStatusWatching:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def _keep_list(
        self, list_key: str, uri: str, issuer: str, needed_until: float, now: float
    ) -> None:
        """The list watched until ``needed_until`` at least; a new one is fetched now."""
        for _ in range(2):  # a concurrent first watch of the same list: the update wins then
            async with self._sessions.begin() as session:
                later = case(
                    (StatusListRow.needed_until < needed_until, needed_until),
                    else_=StatusListRow.needed_until,
                )
                found = await session.execute(
                    update(StatusListRow)
                    .where(StatusListRow.list_key == list_key)
                    .values(needed_until=later)
                )
                if found.rowcount:  # type: ignore[attr-defined]
                    return
            try:
                async with self._sessions.begin() as session:
                    session.add(
                        StatusListRow(
                            list_key=list_key,
                            uri=uri,
                            issuer=issuer,
                            next_fetch_at=now,
                            needed_until=needed_until,
                            fetches=0,
                            failures=0,
                        )
                    )
                return
            except IntegrityError:
                continue

    async def watch(
        self,
        account_id: str,
        credential_id: str,
        *,
        lists: Sequence[tuple[str, str, str]],
        watch_keys: Sequence[str],
        expires_at: float | None,
        first_notice_at: float | None,
        needed_until: float,
        now: float,
    ) -> None:
        for list_key, uri, issuer in lists:
            await self._keep_list(list_key, uri, issuer, needed_until, now)
        for attempt in range(2):  # a concurrent first indexing of the same credential
            try:
                async with self._sessions.begin() as session:
                    await self._index(
                        session,
                        account_id,
                        credential_id,
                        watch_keys=watch_keys,
                        expires_at=expires_at,
                        first_notice_at=first_notice_at,
                        now=now,
                    )
                return
            except IntegrityError:
                if attempt:
                    raise

    @staticmethod
    async def _index(
        session: AsyncSession,
        account_id: str,
        credential_id: str,
        *,
        watch_keys: Sequence[str],
        expires_at: float | None,
        first_notice_at: float | None,
        now: float,
    ) -> None:
        mine = (
            CredentialWatchRow.credential_id == credential_id,
            CredentialWatchRow.account_id == account_id,
        )
        old = (await session.execute(select(CredentialWatchRow).where(*mine))).scalar_one_or_none()
        await session.execute(
            delete(StatusWatchRow).where(
                StatusWatchRow.credential_id == credential_id,
                StatusWatchRow.account_id == account_id,
            )
        )
        session.add_all(
            StatusWatchRow(watch_key=key, credential_id=credential_id, account_id=account_id)
            for key in sorted(set(watch_keys))
        )
        stage, due_at = expiry_plan(
            None if old is None else (old.expires_at, old.stage), expires_at, first_notice_at, now
        )
        if old is None:
            session.add(
                CredentialWatchRow(
                    credential_id=credential_id,
                    account_id=account_id,
                    expires_at=expires_at,
                    due_at=due_at,
                    stage=stage,
                    told=None,
                    pending=1,
                    indexed_at=now,
                )
            )
            return
        # what the citizen was told stays (a renewal is not news); it is looked at again
        await session.execute(
            update(CredentialWatchRow)
            .where(*mine)
            .values(
                expires_at=expires_at,
                due_at=due_at,
                stage=stage,
                pending=CredentialWatchRow.pending + 1,
                indexed_at=now,
            )
        )

    @staticmethod
    async def _forget(session: AsyncSession, account_id: str, credential_id: str) -> None:
        await session.execute(
            delete(StatusWatchRow).where(
                StatusWatchRow.credential_id == credential_id,
                StatusWatchRow.account_id == account_id,
            )
        )
        await session.execute(
            delete(CredentialWatchRow).where(
                CredentialWatchRow.credential_id == credential_id,
                CredentialWatchRow.account_id == account_id,
            )
        )

    async def unwatch(self, account_id: str, credential_id: str) -> None:
        async with self._sessions.begin() as session:
            await self._forget(session, account_id, credential_id)

    async def unwatched(self, limit: int, *, indexed_before: float) -> list[tuple[str, str]]:
        async with self._sessions() as session:
            current = select(CredentialWatchRow.credential_id).where(
                CredentialWatchRow.credential_id == CredentialRow.credential_id,
                or_(
                    CredentialWatchRow.expires_at.is_not(None),
                    CredentialWatchRow.indexed_at >= indexed_before,
                ),
            )
            rows = await session.execute(
                select(CredentialRow.account_id, CredentialRow.credential_id)
                .where(~current.exists())
                .order_by(CredentialRow.created_at)
                .limit(limit)
            )
            return [(a, c) for a, c in rows]

    async def due_lists(self, now: float, limit: int) -> list[WatchedList]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(StatusListRow)
                .where(StatusListRow.next_fetch_at <= now, StatusListRow.needed_until >= now)
                .order_by(StatusListRow.next_fetch_at)
                .limit(limit)
            )
            return [
                WatchedList(
                    r.list_key,
                    r.uri,
                    r.issuer,
                    r.next_fetch_at,
                    r.needed_until,
                    r.last_list,
                    r.last_digest,
                    r.fetches,
                    r.failures,
                )
                for (r,) in rows
            ]

    async def fetched(
        self,
        list_key: str,
        *,
        seen_digest: str | None,
        next_fetch_at: float,
        failures: int,
        at: float,
    ) -> bool:
        values: dict[str, object] = {
            "next_fetch_at": next_fetch_at,
            "failures": failures,
            "fetches": StatusListRow.fetches + 1,
        }
        if not failures:
            values["fetched_at"] = at
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(StatusListRow)
                .where(
                    StatusListRow.list_key == list_key,
                    StatusListRow.last_digest.is_not_distinct_from(seen_digest),
                )
                .values(**values)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def claim_list(
        self,
        list_key: str,
        *,
        seen_digest: str | None,
        last_list: str,
        last_digest: str,
        next_fetch_at: float,
        at: float,
        concerned: Sequence[str],
    ) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(StatusListRow)
                .where(
                    StatusListRow.list_key == list_key,
                    StatusListRow.last_digest.is_not_distinct_from(seen_digest),
                )
                .values(
                    last_list=last_list,
                    last_digest=last_digest,
                    fetched_at=at,
                    next_fetch_at=next_fetch_at,
                    failures=0,
                    fetches=StatusListRow.fetches + 1,
                )
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            for start in range(0, len(concerned), _CHUNK):
                await session.execute(
                    update(CredentialWatchRow)
                    .where(CredentialWatchRow.credential_id.in_(concerned[start : start + _CHUNK]))
                    .values(pending=CredentialWatchRow.pending + 1)
                )
            return True

    async def last_lists(self, list_keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        async with self._sessions() as session:
            for start in range(0, len(list_keys), _CHUNK):
                rows = await session.execute(
                    select(
                        StatusListRow.list_key, StatusListRow.last_digest, StatusListRow.last_list
                    ).where(
                        StatusListRow.list_key.in_(list_keys[start : start + _CHUNK]),
                        StatusListRow.last_digest.is_not(None),
                    )
                )
                found.update({k: (d, v) for k, d, v in rows if d is not None and v is not None})
        return found

    async def watchers(self, watch_keys: Sequence[str]) -> list[tuple[str, str, str]]:
        found: list[tuple[str, str, str]] = []
        async with self._sessions() as session:
            for start in range(0, len(watch_keys), _CHUNK):
                rows = await session.execute(
                    select(
                        StatusWatchRow.watch_key,
                        StatusWatchRow.account_id,
                        StatusWatchRow.credential_id,
                    ).where(StatusWatchRow.watch_key.in_(watch_keys[start : start + _CHUNK]))
                )
                found += [(k, a, c) for k, a, c in rows]
        return found

    async def pending(self, after: str, limit: int) -> list[PendingWatch]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(
                    CredentialWatchRow.credential_id,
                    CredentialWatchRow.account_id,
                    CredentialWatchRow.told,
                    CredentialWatchRow.pending,
                )
                .where(CredentialWatchRow.pending > 0, CredentialWatchRow.credential_id > after)
                .order_by(CredentialWatchRow.credential_id)
                .limit(limit)
            )
            return [PendingWatch(c, a, t, p) for c, a, t, p in rows]

    async def settle(
        self,
        credential_id: str,
        *,
        pending: int,
        told: str | None,
        becomes: str | None,
        notice: Notice | None,
    ) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(CredentialWatchRow)
                .where(
                    CredentialWatchRow.credential_id == credential_id,
                    CredentialWatchRow.pending == pending,
                    CredentialWatchRow.told.is_not_distinct_from(told),
                )
                .values(told=becomes, pending=0)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            if notice is not None:
                _add_notice(session, notice)
            return True

    async def forget_lists(self, now: float) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(StatusListRow).where(StatusListRow.needed_until < now)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def expiry_due(self, now: float, limit: int) -> list[ExpiryDue]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(CredentialWatchRow)
                .where(
                    CredentialWatchRow.due_at <= now,
                    CredentialWatchRow.expires_at.is_not(None),
                )
                .order_by(CredentialWatchRow.due_at)
                .limit(limit)
            )
            return [
                ExpiryDue(r.credential_id, r.account_id, float(r.expires_at or 0), r.stage)
                for (r,) in rows
            ]

    async def expiry_noticed(
        self,
        credential_id: str,
        stage: int,
        *,
        next_stage: int,
        due_at: float | None,
        notice: Notice | None,
    ) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(CredentialWatchRow)
                .where(
                    CredentialWatchRow.credential_id == credential_id,
                    CredentialWatchRow.stage == stage,
                )
                .values(stage=next_stage, due_at=due_at)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            if notice is not None:
                _add_notice(session, notice)
            return True

    async def lease(self, name: str, holder: str, now: float, seconds: float) -> bool:
        async with self._sessions.begin() as session:
            taken = await session.execute(
                update(TaskLeaseRow)
                .where(
                    TaskLeaseRow.name == name,
                    or_(TaskLeaseRow.until < now, TaskLeaseRow.holder == holder),
                )
                .values(holder=holder, until=now + seconds)
            )
            if taken.rowcount:  # type: ignore[attr-defined]
                return True
        try:
            async with self._sessions.begin() as session:
                session.add(TaskLeaseRow(name=name, holder=holder, until=now + seconds))
        except IntegrityError:
            return False  # another worker holds it
        return True
