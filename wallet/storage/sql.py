"""The wallet store on SQLAlchemy (SQLite and PostgreSQL alike).

What every request of a citizen's phone does (the session check with the account's
wrapped key, reading the credentials and holder keys, keeping and moving a flow, the
activity entry, counting a presentation) is one statement, sent to PostgreSQL through
the driver directly (``core.storage.driver``) and to SQLite through SQLAlchemy Core, never
through the ORM's unit of work: there the machinery costs more than the round trip.

Single-use values are decided by one statement's row count: a challenge is consumed by a
``DELETE`` of the unexpired row, a refresh token rotated by an ``UPDATE`` of the unrotated
row, a flow step claimed by an ``UPDATE`` on its expected state. Concurrent callers cannot
both win.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, cast

from sqlalchemy import (
    LargeBinary,
    Select,
    Table,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.storage.capped import capped_insert
from core.storage.change_feed import SESSIONS, ChangeFeed
from core.storage.driver import changed_rows, is_postgresql, postgres_connection
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
    SpentChallenge,
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


class _HotPath:
    """The engine behind ``sessions``, and whether it is PostgreSQL through asyncpg."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self._engine: AsyncEngine = sessions.kw["bind"]
        self._postgres = is_postgresql(self._engine)

    async def _rows(
        self, native: str, arguments: Sequence[object], portable: Callable[[], Select[Any]]
    ) -> Sequence[Sequence[Any]]:
        """One read: ``native`` through the driver on PostgreSQL, the statement
        ``portable`` builds elsewhere (only there: building it costs about as much as the
        database round trip)."""
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                found: Sequence[Sequence[Any]] = await driver.fetch(native, *arguments)
                return found
        async with self._engine.connect() as connection:
            rows: Sequence[Sequence[Any]] = (await connection.execute(portable())).all()
            return rows

    async def _row(
        self, native: str, arguments: Sequence[object], portable: Callable[[], Select[Any]]
    ) -> Sequence[Any] | None:
        rows = await self._rows(native, arguments, portable)
        return rows[0] if rows else None


#: Session checks a worker keeps at most (the least needed are read again).
_SESSIONS_KEPT = 10_000
_ACCOUNTS = cast(Table, AccountRow.__table__)
_DEVICES = cast(Table, DeviceRow.__table__)
_CREDENTIALS = cast(Table, CredentialRow.__table__)
_HOLDER_KEYS = cast(Table, HolderKeyRow.__table__)
_ACTIVITY = cast(Table, ActivityRow.__table__)


class SqlAccounts(_HotPath):
    def __init__(self, sessions: Sessions, devices: SqlDevices) -> None:
        super().__init__(sessions)
        self._devices = devices  # whose kept session checks a deleted account ends

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
        columns = _ACCOUNTS.c
        row = await self._row(
            "SELECT account_id, wrapped_data_key, created_at FROM wallet_accounts"
            " WHERE account_id = $1",
            (account_id,),
            lambda: select(columns.account_id, columns.wrapped_data_key, columns.created_at).where(
                columns.account_id == account_id
            ),
        )
        return None if row is None else Account(row[0], bytes(row[1]), row[2])

    async def delete(self, account_id: str) -> bool:
        async with self._sessions.begin() as session:
            for table in _OWNED:  # explicit, whatever the engine's foreign-key settings
                await session.execute(delete(table).where(table.account_id == account_id))
            result = await session.execute(
                delete(AccountRow).where(AccountRow.account_id == account_id)
            )
            deleted = bool(result.rowcount)  # type: ignore[attr-defined]
        self._devices.changed()
        return deleted


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


class SqlDevices(_HotPath):
    """With a ``feed`` (PostgreSQL), a session's check (the device active, its account)
    and an active device read by its id are kept from one request to the next until any
    process revokes a device or deletes an account (``core.storage.change_feed``);
    without one, they are read every time."""

    def __init__(self, sessions: Sessions, feed: ChangeFeed | None = None) -> None:
        super().__init__(sessions)
        self._feed = feed if self._postgres else None
        self._checked: dict[tuple[str, str], tuple[tuple[int, int], Account]] = {}
        self._devices: dict[str, tuple[tuple[int, int], Device]] = {}
        #: Session checks and device reads that went to the database (the rest were kept).
        self.reads = 0

    async def session_account(self, account_id: str, device_id: str) -> Account | None:
        feed = self._feed
        stamp = (-1, -1)
        if feed is not None and feed.live:
            stamp = feed.stamp(SESSIONS)
            kept = self._checked.get((account_id, device_id))
            if kept is not None and kept[0] == stamp:
                return kept[1]
        account = await self._read_session_account(account_id, device_id)
        # only a live session is kept: a refused one is asked about again
        if account is not None and feed is not None and feed.live and feed.stamp(SESSIONS) == stamp:
            if len(self._checked) >= _SESSIONS_KEPT:
                self._checked.clear()
            self._checked[(account_id, device_id)] = (stamp, account)
        return account

    async def _read_session_account(self, account_id: str, device_id: str) -> Account | None:
        self.reads += 1
        accounts, devices = _ACCOUNTS.c, _DEVICES.c
        row = await self._row(
            "SELECT a.account_id, a.wrapped_data_key, a.created_at"
            " FROM wallet_devices d JOIN wallet_accounts a ON a.account_id = d.account_id"
            " WHERE d.device_id = $1 AND d.account_id = $2 AND d.revoked_at IS NULL",
            (device_id, account_id),
            lambda: (
                select(accounts.account_id, accounts.wrapped_data_key, accounts.created_at)
                .join_from(_DEVICES, _ACCOUNTS, accounts.account_id == devices.account_id)
                .where(
                    devices.device_id == device_id,
                    devices.account_id == account_id,
                    devices.revoked_at.is_(None),
                )
            ),
        )
        return None if row is None else Account(row[0], bytes(row[1]), row[2])

    def changed(self) -> None:
        """This process revoked a device or deleted an account: no kept check holds."""
        if self._feed is not None:
            self._feed.changed(SESSIONS)
        self._checked.clear()
        self._devices.clear()

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
        """An active device is kept as the session checks are (a sign-in reads its public
        key); a revoked or unknown one is read again every time."""
        feed = self._feed
        stamp = (-1, -1)
        if feed is not None and feed.live:
            stamp = feed.stamp(SESSIONS)
            kept = self._devices.get(device_id)
            if kept is not None and kept[0] == stamp:
                return kept[1]
        device = await self._read_device(device_id)
        if (
            device is not None
            and device.active
            and feed is not None
            and feed.live
            and feed.stamp(SESSIONS) == stamp
        ):
            if len(self._devices) >= _SESSIONS_KEPT:
                self._devices.clear()
            self._devices[device_id] = (stamp, device)
        return device

    async def _read_device(self, device_id: str) -> Device | None:
        self.reads += 1
        if not self._postgres:
            async with self._sessions() as session:
                row = await session.get(DeviceRow, device_id)
                return None if row is None else _device(row)
        async with postgres_connection(self._engine) as driver:
            found = await driver.fetchrow(
                "SELECT device_id, account_id, thumbprint, public_jwk, sealed_name, created_at,"
                " revoked_at FROM wallet_devices WHERE device_id = $1",
                device_id,
            )
        if found is None:
            return None
        return Device(
            found[0], found[1], found[2], json.loads(found[3]), bytes(found[4]), found[5], found[6]
        )

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
            revoked = bool(result.rowcount)  # type: ignore[attr-defined]
        self.changed()
        return revoked


_SESSION_ROW = (
    "INSERT INTO wallet_refresh_tokens (token_hash, family_id, account_id, device_id,"
    " expires_at) VALUES ($1, $2, $3, $4, $5)"
)


def _spending(first: int) -> str:
    """A challenge spent by the first statement that stores it, its hash, expiry and the
    time as parameters ``$first`` to ``$first + 2``; one remembered past its expiry may be
    taken over (it is refused before, as expired, by its own expiry time)."""
    return (
        "INSERT INTO wallet_challenges (challenge_hash, expires_at)"  # noqa: S608 - placeholders only
        f" VALUES (${first}, ${first + 1}) ON CONFLICT (challenge_hash) DO UPDATE SET"
        " expires_at = EXCLUDED.expires_at"
        f" WHERE wallet_challenges.expires_at <= ${first + 2}"
    )


_SPEND_CHALLENGE = _spending(1)
#: A sign-in's refresh token, stored only where the same statement spends its challenge.
_SESSION_SPENDING_CHALLENGE = (
    f"WITH spent AS ({_spending(6)} RETURNING 1)"  # noqa: S608 - constants only
    " INSERT INTO wallet_refresh_tokens (token_hash, family_id, account_id, device_id,"
    " expires_at) SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar, $5::float"
    " WHERE EXISTS (SELECT 1 FROM spent)"
)


def _spend_portable(challenge: SpentChallenge) -> Any:
    statement = sqlite_insert(ChallengeRow).values(
        challenge_hash=challenge.challenge_hash, expires_at=challenge.expires_at
    )
    return statement.on_conflict_do_update(
        index_elements=[ChallengeRow.challenge_hash],
        set_={"expires_at": statement.excluded.expires_at},
        where=ChallengeRow.expires_at <= challenge.now,
    )


class SqlChallenges(_HotPath):
    async def spend(self, challenge: SpentChallenge) -> bool:
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                status = await driver.execute(
                    _SPEND_CHALLENGE,
                    challenge.challenge_hash,
                    challenge.expires_at,
                    challenge.now,
                )
            return changed_rows(status) == 1
        async with self._engine.begin() as connection:
            result = await connection.execute(_spend_portable(challenge))
            return bool(result.rowcount)

    async def purge(self, now: float) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(ChallengeRow).where(ChallengeRow.expires_at <= now)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]


class SqlRefreshTokens(_HotPath):
    async def issue(
        self,
        token_hash: str,
        *,
        family_id: str,
        account_id: str,
        device_id: str,
        expires_at: float,
        spending: SpentChallenge | None = None,
    ) -> bool:
        token = (token_hash, family_id, account_id, device_id, expires_at)
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                if spending is None:
                    await driver.execute(_SESSION_ROW, *token)
                    return True
                status = await driver.execute(
                    _SESSION_SPENDING_CHALLENGE,
                    *token,
                    spending.challenge_hash,
                    spending.expires_at,
                    spending.now,
                )
            return changed_rows(status) == 1
        async with self._engine.begin() as connection:
            if spending is not None:
                spent = await connection.execute(_spend_portable(spending))
                if spent.rowcount != 1:
                    return False
            await connection.execute(
                insert(RefreshTokenRow).values(
                    token_hash=token_hash,
                    family_id=family_id,
                    account_id=account_id,
                    device_id=device_id,
                    expires_at=expires_at,
                )
            )
            return True

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


class SqlHolderKeys(_HotPath):
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
        columns = _HOLDER_KEYS.c
        rows = await self._rows(
            "SELECT holder_key_id, account_id, custody, public_jwk, sealed_private_key,"
            " created_at FROM wallet_holder_keys"
            " WHERE account_id = $1 AND holder_key_id = ANY($2::varchar[])",
            (account_id, list(holder_key_ids)),
            lambda: select(
                columns.holder_key_id,
                columns.account_id,
                columns.custody,
                columns.public_jwk,
                columns.sealed_private_key,
                columns.created_at,
            ).where(
                columns.account_id == account_id,
                columns.holder_key_id.in_(list(holder_key_ids)),
            ),
        )
        return [
            HolderKey(
                str(r[0]),
                str(r[1]),
                Custody(str(r[2])),
                json.loads(cast(str, r[3])),
                None if r[4] is None else bytes(cast(bytes, r[4])),
                cast(float, r[5]),
            )
            for r in rows
        ]


def _stored_credential(r: Sequence[Any]) -> StoredCredential:
    """A credential from the columns of ``_CREDENTIAL_COLUMNS``, in that order, and the
    sealed listing where a seventh column carries it (``_LISTINGS``)."""
    listing = cast("bytes | None", r[6]) if len(r) > 6 else None
    return StoredCredential(
        str(r[0]),
        str(r[1]),
        bytes(cast(bytes, r[2])),
        cast(int, r[3]),
        cast(float, r[4]),
        cast("int | None", r[5]),
        None if listing is None else bytes(listing),
    )


_CREDENTIAL_COLUMNS = "credential_id, account_id, sealed, presentations, created_at, renew_from"


def _listing(account_id: str, *, contents: bool = True) -> Select[Any]:
    """The portable read of an account's credentials, as ``Credentials.list`` orders them
    (without ``contents``, an empty sealed record each)."""
    columns = _CREDENTIALS.c
    selected: list[Any] = [columns[name] for name in _CREDENTIAL_COLUMNS.split(", ")]
    if not contents:
        selected[2] = literal(b"", LargeBinary)
    return (
        select(*selected)
        .where(columns.account_id == account_id)
        .order_by(columns.created_at, columns.credential_id)
    )


def _credential(r: CredentialRow) -> StoredCredential:
    return StoredCredential(
        r.credential_id,
        r.account_id,
        r.sealed,
        r.presentations,
        r.created_at,
        r.renew_from,
        r.sealed_listing,
    )


#: An account's credentials for showing a list: the sealed listing, and the record only
#: where no listing was kept yet.
_LISTINGS = (
    "SELECT credential_id, account_id, CASE WHEN sealed_listing IS NULL THEN sealed"
    " ELSE ''::bytea END, presentations, created_at, renew_from, sealed_listing"
    " FROM wallet_credentials WHERE account_id = $1 ORDER BY created_at, credential_id"
)


def _listings(account_id: str) -> Select[Any]:
    """``_LISTINGS``, portable."""
    columns = _CREDENTIALS.c
    return (
        select(
            columns.credential_id,
            columns.account_id,
            case((columns.sealed_listing.is_(None), columns.sealed), else_=literal(b"")),
            columns.presentations,
            columns.created_at,
            columns.renew_from,
            columns.sealed_listing,
        )
        .where(columns.account_id == account_id)
        .order_by(columns.created_at, columns.credential_id)
    )


class SqlCredentials(_HotPath):
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
                    sealed_listing=credential.sealed_listing,
                )
            )

    async def replace(
        self,
        account_id: str,
        credential_id: str,
        sealed: bytes,
        *,
        sealed_listing: bytes,
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
                .values(
                    sealed=sealed,
                    sealed_listing=sealed_listing,
                    renew_from=renew_from,
                    renew_after=None,
                )
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

    async def listings(self, account_id: str) -> list[StoredCredential]:
        rows = await self._rows(_LISTINGS, (account_id,), lambda: _listings(account_id))
        return [_stored_credential(r) for r in rows]

    async def list(self, account_id: str) -> list[StoredCredential]:
        rows = await self._rows(
            "SELECT credential_id, account_id, sealed, presentations, created_at, renew_from"
            " FROM wallet_credentials WHERE account_id = $1 ORDER BY created_at, credential_id",
            (account_id,),
            lambda: _listing(account_id),
        )
        return [_stored_credential(r) for r in rows]

    async def keep_listing(self, account_id: str, credential_id: str, sealed: bytes) -> None:
        columns = _CREDENTIALS.c
        async with self._engine.begin() as connection:
            await connection.execute(
                update(_CREDENTIALS)
                .where(
                    columns.credential_id == credential_id,
                    columns.account_id == account_id,
                    columns.sealed_listing.is_(None),
                )
                .values(sealed_listing=sealed)
            )

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
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                await driver.execute(
                    "UPDATE wallet_credentials SET presentations = presentations + 1"
                    " WHERE credential_id = $1 AND account_id = $2",
                    credential_id,
                    account_id,
                )
            return
        columns = _CREDENTIALS.c
        async with self._engine.begin() as connection:
            await connection.execute(
                update(_CREDENTIALS)
                .where(columns.credential_id == credential_id, columns.account_id == account_id)
                .values(presentations=columns.presentations + 1)
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


_FLOW_COLUMNS = "flow_id, account_id, kind, state, sealed, expires_at, due_at"
_CLAIM = (
    "UPDATE wallet_flows SET state = $1, due_at = NULL WHERE flow_id = $2 AND account_id = $3"
    " AND kind = $4 AND state = $5 AND expires_at > $6"
    " RETURNING flow_id, account_id, kind, state, sealed, expires_at, due_at"
)
#: ``_CLAIM``, and the account's credentials beside the claimed flow (one row with no
#: credential when there is none; the flow's sealed content on the first row only).
_CLAIM_LISTING = (
    f"WITH claimed AS ({_CLAIM})"  # noqa: S608 - constants only
    " SELECT f.flow_id, f.account_id, f.kind, f.state, CASE WHEN row_number() OVER"
    " (ORDER BY c.created_at, c.credential_id) = 1 THEN f.sealed END, f.expires_at,"
    " f.due_at, c.credential_id, c.account_id, c.sealed, c.presentations, c.created_at,"
    " c.renew_from FROM claimed f LEFT JOIN wallet_credentials c ON c.account_id ="
    " f.account_id ORDER BY c.created_at, c.credential_id"
)
#: ``_CLAIM_LISTING`` without the credentials' sealed records (empty): which are held.
_CLAIM_NAMING = _CLAIM_LISTING.replace(" c.sealed,", " ''::bytea,")
_SUBMIT = (
    "WITH moved AS (UPDATE wallet_flows SET state = $3, due_at = NULL"
    " WHERE flow_id = $1 AND account_id = $2 AND state = $4 RETURNING 1),"
    " counted AS (UPDATE wallet_credentials AS c SET presentations = c.presentations + u.n"
    " FROM (SELECT id, count(*) AS n FROM unnest($5::varchar[]) AS id GROUP BY id) AS u"
    " WHERE c.account_id = $2 AND c.credential_id = u.id RETURNING 1),"
    " logged AS (INSERT INTO wallet_activity (entry_id, account_id, at, kind, sealed)"
    " VALUES ($6, $2, $7, $8, $9) RETURNING 1)"
    " SELECT (SELECT count(*) FROM moved) + 0 * (SELECT count(*) FROM counted)"
    " + 0 * (SELECT count(*) FROM logged)"
)
_ADD_FLOW = (
    "INSERT INTO wallet_flows (flow_id, account_id, kind, state, sealed,"
    " expires_at) SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar,"
    " $5::bytea, $6::float WHERE (SELECT count(*) FROM (SELECT 1 FROM wallet_flows"
    " WHERE account_id = $2 AND expires_at > $7 AND state = ANY($8::varchar[])"
    " LIMIT $9) AS unfinished) < $9"
)
#: The flow kept as ``_ADD_FLOW`` keeps it, and the account's credentials beside whether
#: it was (one row with no credential when there is none).
_ADD_FLOW_LISTING = (
    f"WITH added AS ({_ADD_FLOW} RETURNING 1) SELECT (SELECT count(*) FROM added) AS added,"  # noqa: S608 - constants only
    " c.credential_id, c.account_id, c.sealed, c.presentations, c.created_at, c.renew_from"
    " FROM (SELECT 1) AS one LEFT JOIN wallet_credentials c ON c.account_id = $2"
    " ORDER BY c.created_at, c.credential_id"
)


def _flow_arguments(flow: Flow, now: float, cap: int) -> tuple[object, ...]:
    return (
        flow.flow_id,
        flow.account_id,
        flow.kind.value,
        flow.state.value,
        flow.sealed,
        flow.expires_at,
        now,
        UNFINISHED,
        cap,
    )


async def _claim_portable(
    connection: Any,
    account_id: str,
    *,
    flow_id: str,
    kind: FlowKind,
    expected: FlowState,
    now: float,
) -> Sequence[Any] | None:
    """The portable ``_CLAIM``, in the connection's transaction: the claimed row or None."""
    columns = FLOWS.c
    row: Sequence[Any] | None = (
        await connection.execute(
            update(FLOWS)
            .where(
                columns.flow_id == flow_id,
                columns.account_id == account_id,
                columns.kind == kind.value,
                columns.state == expected.value,
                columns.expires_at > now,
            )
            .values(state=FlowState.BUSY.value, due_at=None)
            .returning(*(columns[name] for name in _FLOW_COLUMNS.split(", ")))
        )
    ).first()
    return row


async def _add_capped(connection: Any, flow: Flow, now: float, cap: int) -> bool:
    """The portable ``_ADD_FLOW``, in the connection's transaction."""
    columns = FLOWS.c
    unfinished = (
        (columns.account_id == flow.account_id)
        & (columns.expires_at > now)
        & columns.state.in_(UNFINISHED)
    )
    values = {
        "flow_id": flow.flow_id,
        "account_id": flow.account_id,
        "kind": flow.kind.value,
        "state": flow.state.value,
        "sealed": flow.sealed,
        "expires_at": flow.expires_at,
    }
    result = await connection.execute(capped_insert(FLOWS, values, counted=unfinished, cap=cap))
    return bool(result.rowcount)


class SqlFlows(_HotPath):
    async def add(self, flow: Flow, now: float, cap: int) -> bool:
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                status = await driver.execute(_ADD_FLOW, *_flow_arguments(flow, now, cap))
            return changed_rows(status) == 1
        async with self._engine.begin() as connection:
            return await _add_capped(connection, flow, now, cap)

    async def add_listing(self, flow: Flow, now: float, cap: int) -> list[StoredCredential] | None:
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                rows = await driver.fetch(_ADD_FLOW_LISTING, *_flow_arguments(flow, now, cap))
            if not rows or not rows[0][0]:
                return None
            return [_stored_credential(r[1:]) for r in rows if r[1] is not None]
        async with self._engine.begin() as connection:
            if not await _add_capped(connection, flow, now, cap):
                return None
            listed = await connection.execute(_listing(flow.account_id))
            return [_stored_credential(r) for r in listed.all()]

    async def submit(
        self, account_id: str, flow_id: str, shown: Sequence[str], entry: ActivityEntry
    ) -> bool:
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                moved = await driver.fetchval(
                    _SUBMIT,
                    flow_id,
                    account_id,
                    FlowState.SUBMITTED.value,
                    FlowState.BUSY.value,
                    list(shown),
                    entry.entry_id,
                    entry.at,
                    entry.kind.value,
                    entry.sealed,
                )
            return bool(moved)
        columns, credentials = FLOWS.c, _CREDENTIALS.c
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(FLOWS)
                .where(
                    columns.flow_id == flow_id,
                    columns.account_id == account_id,
                    columns.state == FlowState.BUSY.value,
                )
                .values(state=FlowState.SUBMITTED.value, due_at=None)
            )
            for credential_id in shown:
                await connection.execute(
                    update(_CREDENTIALS)
                    .where(
                        credentials.credential_id == credential_id,
                        credentials.account_id == account_id,
                    )
                    .values(presentations=credentials.presentations + 1)
                )
            await connection.execute(
                insert(_ACTIVITY).values(
                    entry_id=entry.entry_id,
                    account_id=account_id,
                    at=entry.at,
                    kind=entry.kind.value,
                    sealed=entry.sealed,
                )
            )
            return bool(result.rowcount)

    async def claim(
        self, account_id: str, flow_id: str, kind: FlowKind, expected: FlowState, now: float
    ) -> Flow | None:
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                row = await driver.fetchrow(
                    _CLAIM,
                    FlowState.BUSY.value,
                    flow_id,
                    account_id,
                    kind.value,
                    expected.value,
                    now,
                )
        else:
            async with self._engine.begin() as connection:
                row = await _claim_portable(
                    connection, account_id, flow_id=flow_id, kind=kind, expected=expected, now=now
                )
        # as the step found it: in the state it was claimed from
        return None if row is None else replace(_flow_of(row), state=expected)

    async def claim_listing(
        self,
        account_id: str,
        flow_id: str,
        kind: FlowKind,
        expected: FlowState,
        now: float,
        *,
        contents: bool = True,
    ) -> tuple[Flow, list[StoredCredential]] | None:
        arguments = (FlowState.BUSY.value, flow_id, account_id, kind.value, expected.value, now)
        if self._postgres:
            statement = _CLAIM_LISTING if contents else _CLAIM_NAMING
            async with postgres_connection(self._engine) as driver:
                rows = await driver.fetch(statement, *arguments)
            if not rows:
                return None
            listed = [_stored_credential(r[7:]) for r in rows if r[7] is not None]
            return replace(_flow_of(rows[0][:7]), state=expected), listed
        async with self._engine.begin() as connection:
            row = await _claim_portable(
                connection, account_id, flow_id=flow_id, kind=kind, expected=expected, now=now
            )
            if row is None:
                return None
            rows = await connection.execute(_listing(account_id, contents=contents))
            return replace(_flow_of(row), state=expected), [
                _stored_credential(r) for r in rows.all()
            ]

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
        if self._postgres:
            names = list(values)
            # the names are this method's own columns, never input
            assignments = ", ".join(f"{name} = ${place}" for place, name in enumerate(names, 4))
            async with postgres_connection(self._engine) as driver:
                status = await driver.execute(
                    f"UPDATE wallet_flows SET {assignments}"  # noqa: S608
                    " WHERE flow_id = $1 AND account_id = $2 AND state = $3",
                    flow_id,
                    account_id,
                    expected.value,
                    *(values[name] for name in names),
                )
            return changed_rows(status) == 1
        columns = FLOWS.c
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(FLOWS)
                .where(
                    columns.flow_id == flow_id,
                    columns.account_id == account_id,
                    columns.state == expected.value,
                )
                .values(**values)
            )
            return bool(result.rowcount)

    async def purge(self, before: float) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(delete(FlowRow).where(FlowRow.expires_at < before))
            return int(result.rowcount)  # type: ignore[attr-defined]


def _flow_of(row: Sequence[object]) -> Flow:
    """A flow from the columns of ``_FLOW_COLUMNS``, in that order."""
    return Flow(
        str(row[0]),
        str(row[1]),
        FlowKind(str(row[2])),
        FlowState(str(row[3])),
        bytes(cast(bytes, row[4])),
        cast(float, row[5]),
        cast("float | None", row[6]),
    )


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


class SqlActivity(_HotPath):
    async def add(self, entry: ActivityEntry) -> None:
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                await driver.execute(
                    "INSERT INTO wallet_activity (entry_id, account_id, at, kind, sealed)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    entry.entry_id,
                    entry.account_id,
                    entry.at,
                    entry.kind.value,
                    entry.sealed,
                )
            return
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(_ACTIVITY).values(
                    entry_id=entry.entry_id,
                    account_id=entry.account_id,
                    at=entry.at,
                    kind=entry.kind.value,
                    sealed=entry.sealed,
                )
            )

    async def add_once(self, entry: ActivityEntry) -> bool:
        """Whether ``entry`` was stored: an entry of the same id stored already (by any
        worker) leaves it out."""
        if self._postgres:
            async with postgres_connection(self._engine) as driver:
                status = await driver.execute(
                    "INSERT INTO wallet_activity (entry_id, account_id, at, kind, sealed)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (entry_id) DO NOTHING",
                    entry.entry_id,
                    entry.account_id,
                    entry.at,
                    entry.kind.value,
                    entry.sealed,
                )
            return changed_rows(status) == 1
        async with self._engine.begin() as connection:
            result = await connection.execute(
                sqlite_insert(_ACTIVITY)
                .values(
                    entry_id=entry.entry_id,
                    account_id=entry.account_id,
                    at=entry.at,
                    kind=entry.kind.value,
                    sealed=entry.sealed,
                )
                .on_conflict_do_nothing(index_elements=["entry_id"])
            )
            return result.rowcount == 1

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
    """``feed``: the worker's change feed, where session checks may be kept (PostgreSQL)."""

    def __init__(self, sessions: Sessions, feed: ChangeFeed | None = None) -> None:
        self.devices = SqlDevices(sessions, feed)
        self.accounts = SqlAccounts(sessions, self.devices)
        self.challenges = SqlChallenges(sessions)
        self.refresh_tokens = SqlRefreshTokens(sessions)
        self.holder_keys = SqlHolderKeys(sessions)
        self.credentials = SqlCredentials(sessions)
        self.flows = SqlFlows(sessions)
        self.activity = SqlActivity(sessions)
        self.notifications = SqlNotifications(sessions)
        self.push_subscriptions = SqlPushSubscriptions(sessions)
        self.status_watching = SqlStatusWatching(sessions)
