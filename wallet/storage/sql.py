"""The wallet store on SQLAlchemy (SQLite and PostgreSQL alike).

Single-use values are decided by one statement's row count: a challenge is consumed by a
``DELETE`` of the unexpired row, a refresh token rotated by an ``UPDATE`` of the unrotated
row, a flow step claimed by an ``UPDATE`` on its expected state. Concurrent callers cannot
both win.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.storage.capped import capped_insert
from wallet.domain import (
    Account,
    ActivityEntry,
    ActivityKind,
    Custody,
    Device,
    Flow,
    FlowKind,
    FlowState,
    HolderKey,
    StoredCredential,
)
from wallet.storage.mediation_tables import HelpRequestRow, MediationRow
from wallet.storage.notification_sql import (
    SqlNotifications,
    SqlPushSubscriptions,
    SqlStatusWatching,
)
from wallet.storage.notification_tables import (
    CredentialWatchRow,
    NotificationRow,
    PushSubscriptionRow,
    StatusWatchRow,
)
from wallet.storage.tables import (
    AccountRow,
    ActivityRow,
    ChallengeRow,
    CredentialRow,
    DeviceRow,
    FlowRow,
    HolderKeyRow,
    RefreshTokenRow,
)

Sessions = async_sessionmaker[AsyncSession]
#: The account's rows of the notifications and the watching, erased with it.
NOTIFICATION_TABLES = (NotificationRow, PushSubscriptionRow, StatusWatchRow, CredentialWatchRow)
FLOWS = cast(Table, FlowRow.__table__)
#: Flows still waiting for a step of the citizen's (or a worker between two steps).
UNFINISHED = [
    state.value
    for state in (
        FlowState.OFFERED,
        FlowState.AUTHORIZATION_REQUIRED,
        FlowState.PENDING,
        FlowState.PROOFS_NEEDED,
        FlowState.CONSENT_NEEDED,
        FlowState.SIGNATURES_NEEDED,
        FlowState.BUSY,
    )
]
audit = logging.getLogger("idwallet.audit")


def _foreign(kind: str, object_id: str, owner: str, asking: str) -> None:
    """An account asked for another account's object: refused like a missing one (404),
    and recorded (pseudonymous ids only) for whoever watches for probing."""
    audit.warning(
        "wallet: account %s asked for %s %s of account %s; refused", asking, kind, object_id, owner
    )


_OWNED = (
    *NOTIFICATION_TABLES,
    ActivityRow,
    FlowRow,
    CredentialRow,
    HolderKeyRow,
    RefreshTokenRow,
    DeviceRow,
    MediationRow,  # assisted access: the account's mediations, the help requests it took
    HelpRequestRow,
)


def _device(r: DeviceRow) -> Device:
    return Device(
        r.device_id,
        r.account_id,
        r.thumbprint,
        json.loads(r.public_jwk),
        r.sealed_name,
        r.created_at,
        r.revoked_at,
    )


class SqlAccounts:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def create(self, account: Account, device: Device) -> None:
        async with self._sessions.begin() as session:
            session.add(
                AccountRow(
                    account_id=account.account_id,
                    wrapped_data_key=account.wrapped_data_key,
                    created_at=account.created_at,
                )
            )
            await session.flush()
            session.add(_device_row(device))

    async def get(self, account_id: str) -> Account | None:
        async with self._sessions() as session:
            row = await session.get(AccountRow, account_id)
            if row is None:
                return None
            return Account(row.account_id, row.wrapped_data_key, row.created_at)

    async def delete(self, account_id: str) -> bool:
        async with self._sessions.begin() as session:
            for table in _OWNED:  # explicit, whatever the engine's foreign-key settings
                await session.execute(delete(table).where(table.account_id == account_id))
            result = await session.execute(
                delete(AccountRow).where(AccountRow.account_id == account_id)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]


def _device_row(device: Device) -> DeviceRow:
    return DeviceRow(
        device_id=device.device_id,
        account_id=device.account_id,
        thumbprint=device.thumbprint,
        public_jwk=json.dumps(device.public_jwk),
        sealed_name=device.sealed_name,
        created_at=device.created_at,
        revoked_at=device.revoked_at,
    )


class SqlDevices:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(self, device: Device) -> None:
        async with self._sessions.begin() as session:
            session.add(_device_row(device))

    async def by_thumbprint(self, thumbprint: str) -> Device | None:
        async with self._sessions() as session:
            row = (
                await session.execute(select(DeviceRow).where(DeviceRow.thumbprint == thumbprint))
            ).scalar_one_or_none()
            return None if row is None else _device(row)

    async def by_device_id(self, device_id: str) -> Device | None:
        async with self._sessions() as session:
            row = await session.get(DeviceRow, device_id)
            return None if row is None else _device(row)

    async def get(self, account_id: str, device_id: str) -> Device | None:
        async with self._sessions() as session:
            row = await session.get(DeviceRow, device_id)
            if row is None:
                return None
            if row.account_id != account_id:
                _foreign("device", device_id, row.account_id, account_id)
                return None
            return _device(row)

    async def list(self, account_id: str) -> list[Device]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(DeviceRow)
                .where(DeviceRow.account_id == account_id)
                .order_by(DeviceRow.created_at)
            )
            return [_device(r) for r in rows.scalars()]

    async def revoke(self, account_id: str, device_id: str, at: float) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(DeviceRow)
                .where(
                    DeviceRow.device_id == device_id,
                    DeviceRow.account_id == account_id,
                    DeviceRow.revoked_at.is_(None),
                )
                .values(revoked_at=at)
            )
            await session.execute(
                update(RefreshTokenRow)
                .where(RefreshTokenRow.device_id == device_id, RefreshTokenRow.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]


class SqlChallenges:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def issue(self, challenge_hash: str, expires_at: float) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                insert(ChallengeRow).values(challenge_hash=challenge_hash, expires_at=expires_at)
            )

    async def count_live(self, now: float, limit: int) -> int:
        live = select(ChallengeRow.challenge_hash).where(ChallengeRow.expires_at > now)
        async with self._sessions() as session:
            counted = await session.scalar(
                select(func.count()).select_from(live.limit(limit).subquery())
            )
        return int(counted or 0)

    async def consume(self, challenge_hash: str, now: float) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(ChallengeRow).where(
                    ChallengeRow.challenge_hash == challenge_hash, ChallengeRow.expires_at > now
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def purge(self, now: float) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(ChallengeRow).where(ChallengeRow.expires_at <= now)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]


class SqlRefreshTokens:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def issue(
        self,
        token_hash: str,
        *,
        family_id: str,
        account_id: str,
        device_id: str,
        expires_at: float,
    ) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                insert(RefreshTokenRow).values(
                    token_hash=token_hash,
                    family_id=family_id,
                    account_id=account_id,
                    device_id=device_id,
                    expires_at=expires_at,
                )
            )

    async def rotate(self, token_hash: str, now: float) -> tuple[str, str, str] | None:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(RefreshTokenRow)
                .where(
                    RefreshTokenRow.token_hash == token_hash,
                    RefreshTokenRow.rotated_at.is_(None),
                    RefreshTokenRow.revoked_at.is_(None),
                    RefreshTokenRow.expires_at > now,
                )
                .values(rotated_at=now)
                .returning(
                    RefreshTokenRow.family_id, RefreshTokenRow.account_id, RefreshTokenRow.device_id
                )
            )
            won = result.first()
            if won is not None:
                return str(won[0]), str(won[1]), str(won[2])
            reused = (
                await session.execute(
                    select(RefreshTokenRow.family_id).where(
                        RefreshTokenRow.token_hash == token_hash,
                        RefreshTokenRow.rotated_at.is_not(None),
                    )
                )
            ).scalar_one_or_none()
            if reused is not None:  # a rotated token came back: the family is compromised
                await session.execute(
                    update(RefreshTokenRow)
                    .where(
                        RefreshTokenRow.family_id == reused, RefreshTokenRow.revoked_at.is_(None)
                    )
                    .values(revoked_at=now)
                )
            return None

    async def purge(self, now: float) -> int:
        """Forget expired refresh tokens (used or not: none of them opens anything now)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(RefreshTokenRow).where(RefreshTokenRow.expires_at <= now)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]


class SqlHolderKeys:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(self, keys: Sequence[HolderKey]) -> None:
        async with self._sessions.begin() as session:
            for key in keys:
                session.add(
                    HolderKeyRow(
                        holder_key_id=key.holder_key_id,
                        account_id=key.account_id,
                        custody=key.custody.value,
                        public_jwk=json.dumps(key.public_jwk),
                        sealed_private_key=key.sealed_private_key,
                        created_at=key.created_at,
                    )
                )

    async def get(self, account_id: str, holder_key_ids: Sequence[str]) -> list[HolderKey]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(HolderKeyRow).where(
                    HolderKeyRow.account_id == account_id,
                    HolderKeyRow.holder_key_id.in_(list(holder_key_ids)),
                )
            )
            return [
                HolderKey(
                    r.holder_key_id,
                    r.account_id,
                    Custody(r.custody),
                    json.loads(r.public_jwk),
                    r.sealed_private_key,
                    r.created_at,
                )
                for (r,) in rows
            ]


def _credential(r: CredentialRow) -> StoredCredential:
    return StoredCredential(
        r.credential_id, r.account_id, r.sealed, r.presentations, r.created_at, r.renew_from
    )


class SqlCredentials:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(self, credential: StoredCredential) -> None:
        async with self._sessions.begin() as session:
            session.add(
                CredentialRow(
                    credential_id=credential.credential_id,
                    account_id=credential.account_id,
                    sealed=credential.sealed,
                    presentations=credential.presentations,
                    created_at=credential.created_at,
                    renew_from=credential.renew_from,
                )
            )

    async def replace(
        self,
        account_id: str,
        credential_id: str,
        sealed: bytes,
        *,
        expected_presentations: int,
        renew_from: int | None,
    ) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(CredentialRow)
                .where(
                    CredentialRow.credential_id == credential_id,
                    CredentialRow.account_id == account_id,
                    CredentialRow.presentations == expected_presentations,
                )
                .values(sealed=sealed, renew_from=renew_from, renew_after=None)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def renewal_due(self, now: float, limit: int) -> list[tuple[str, str]]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(CredentialRow.account_id, CredentialRow.credential_id)
                .where(
                    CredentialRow.renew_from.is_not(None),
                    CredentialRow.presentations >= CredentialRow.renew_from,
                    (CredentialRow.renew_after.is_(None)) | (CredentialRow.renew_after <= now),
                )
                .limit(limit)
            )
            return [(account_id, credential_id) for account_id, credential_id in rows]

    async def postpone_renewal(self, account_id: str, credential_id: str, until: float) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(CredentialRow)
                .where(
                    CredentialRow.credential_id == credential_id,
                    CredentialRow.account_id == account_id,
                )
                .values(renew_after=until)
            )

    async def list(self, account_id: str) -> list[StoredCredential]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(CredentialRow)
                .where(CredentialRow.account_id == account_id)
                .order_by(CredentialRow.created_at, CredentialRow.credential_id)
            )
            return [_credential(r) for (r,) in rows]

    async def get(self, account_id: str, credential_id: str) -> StoredCredential | None:
        async with self._sessions() as session:
            row = await session.get(CredentialRow, credential_id)
            if row is None:
                return None
            if row.account_id != account_id:
                _foreign("credential", credential_id, row.account_id, account_id)
                return None
            return _credential(row)

    async def count_presentation(self, account_id: str, credential_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(CredentialRow)
                .where(
                    CredentialRow.credential_id == credential_id,
                    CredentialRow.account_id == account_id,
                )
                .values(presentations=CredentialRow.presentations + 1)
            )

    async def delete(self, account_id: str, credential_id: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(CredentialRow).where(
                    CredentialRow.credential_id == credential_id,
                    CredentialRow.account_id == account_id,
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]


class SqlFlows:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(self, flow: Flow, now: float, cap: int) -> bool:
        values = {
            "flow_id": flow.flow_id,
            "account_id": flow.account_id,
            "kind": flow.kind.value,
            "state": flow.state.value,
            "sealed": flow.sealed,
            "expires_at": flow.expires_at,
        }
        columns = FLOWS.c
        unfinished = (
            (columns.account_id == flow.account_id)
            & (columns.expires_at > now)
            & columns.state.in_(UNFINISHED)
        )
        async with self._sessions.begin() as session:
            result = await session.execute(
                capped_insert(FLOWS, values, counted=unfinished, cap=cap)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def get(self, account_id: str, flow_id: str, now: float) -> Flow | None:
        async with self._sessions() as session:
            row = await session.get(FlowRow, flow_id)
            if row is None or row.expires_at <= now:
                return None
            if row.account_id != account_id:
                _foreign(row.kind, flow_id, row.account_id, account_id)
                return None
            return _flow(row)

    async def pending(self, account_id: str, now: float) -> list[Flow]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(FlowRow)
                .where(
                    FlowRow.account_id == account_id,
                    FlowRow.state == FlowState.PENDING.value,
                    FlowRow.expires_at > now,
                )
                .order_by(FlowRow.due_at)
            )
            return [_flow(row) for row in rows]

    async def in_state(self, account_id: str, state: FlowState, now: float) -> list[Flow]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(FlowRow)
                .where(
                    FlowRow.account_id == account_id,
                    FlowRow.state == state.value,
                    FlowRow.expires_at > now,
                )
                .order_by(FlowRow.expires_at)
            )
            return [_flow(row) for row in rows]

    async def due(self, now: float, limit: int) -> list[tuple[str, str]]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(FlowRow.account_id, FlowRow.flow_id)
                .where(
                    FlowRow.state == FlowState.PENDING.value,
                    FlowRow.due_at <= now,
                    FlowRow.expires_at > now,
                )
                .order_by(FlowRow.due_at)
                .limit(limit)
            )
            return [(account_id, flow_id) for account_id, flow_id in rows]

    async def next_due(self, now: float) -> float | None:
        async with self._sessions() as session:
            due: float | None = await session.scalar(
                select(func.min(FlowRow.due_at)).where(
                    FlowRow.state == FlowState.PENDING.value,
                    FlowRow.due_at.is_not(None),
                    FlowRow.expires_at > now,
                )
            )
            return due

    async def move(
        self,
        account_id: str,
        flow_id: str,
        *,
        expected: FlowState,
        state: FlowState,
        sealed: bytes | None = None,
        expires_at: float | None = None,
        due_at: float | None = None,
    ) -> bool:
        values: dict[str, object] = {"state": state.value, "due_at": due_at}
        if sealed is not None:
            values["sealed"] = sealed
        if expires_at is not None:
            values["expires_at"] = expires_at
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(FlowRow)
                .where(
                    FlowRow.flow_id == flow_id,
                    FlowRow.account_id == account_id,
                    FlowRow.state == expected.value,
                )
                .values(**values)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def purge(self, before: float) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(delete(FlowRow).where(FlowRow.expires_at < before))
            return int(result.rowcount)  # type: ignore[attr-defined]


def _flow(row: FlowRow) -> Flow:
    return Flow(
        row.flow_id,
        row.account_id,
        FlowKind(row.kind),
        FlowState(row.state),
        row.sealed,
        row.expires_at,
        row.due_at,
    )


class SqlActivity:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    async def add(self, entry: ActivityEntry) -> None:
        async with self._sessions.begin() as session:
            session.add(
                ActivityRow(
                    entry_id=entry.entry_id,
                    account_id=entry.account_id,
                    at=entry.at,
                    kind=entry.kind.value,
                    sealed=entry.sealed,
                )
            )

    async def list(self, account_id: str, limit: int) -> list[ActivityEntry]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(ActivityRow)
                .where(ActivityRow.account_id == account_id)
                .order_by(ActivityRow.at.desc(), ActivityRow.entry_id)
                .limit(limit)
            )
            return [
                ActivityEntry(r.entry_id, r.account_id, r.at, ActivityKind(r.kind), r.sealed)
                for (r,) in rows
            ]


class SqlWalletStore:
    def __init__(self, sessions: Sessions) -> None:
        self.accounts = SqlAccounts(sessions)
        self.devices = SqlDevices(sessions)
        self.challenges = SqlChallenges(sessions)
        self.refresh_tokens = SqlRefreshTokens(sessions)
        self.holder_keys = SqlHolderKeys(sessions)
        self.credentials = SqlCredentials(sessions)
        self.flows = SqlFlows(sessions)
        self.activity = SqlActivity(sessions)
        self.notifications = SqlNotifications(sessions)
        self.push_subscriptions = SqlPushSubscriptions(sessions)
        self.status_watching = SqlStatusWatching(sessions)
