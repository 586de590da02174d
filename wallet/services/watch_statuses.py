"""The status-list watching: the citizen is told when a credential they hold is revoked,
suspended or reinstated by its issuer, expires soon or expired, whatever the issuer (this
deployment's agencies or a foreign one).

One pass (run by one worker of the deployment at a time, ``app.status_watching``):

1. Credentials stored before the watching began are indexed (``status_watch_index``).
2. Each watched status list that is due is fetched once (Token Status List §8: through
   the guarded outbound client and the deployment's cache of published documents, which
   asks again conditionally with the issuer's ``ETag``), and verified as the wallet
   verifies every status list (§8.3: signature, ``typ``, ``sub`` = the URI, expiry, the
   signer's certificate naming the credential's issuer, chained to the wallet's anchors).
   It is due again after its ``ttl`` (§13.7: the issuer's own statement of how often a new
   version may appear), no sooner than ``watch_floor`` and no later than ``watch_ceiling``
   or the token's ``exp``; a list that failed is asked again after the floor, doubling
   with each further failure. However many credentials reference a list, it is fetched
   once per period: the number of fetches grows with the number of lists, not of
   credentials.
3. A list whose token changed is compared with the last one verified: the indices whose
   status changed are hashed with the watch key and looked up in the index; each held
   credential found gets one notification (``revoked``, ``suspended`` or ``reinstated``)
   and an activity entry. A list fetched for the first time is compared with a list of
   valid entries (so a credential already revoked when the watching began is told of).
4. Expiry notices that are due (``expiring_soon`` ``expiry_notice_days`` before ``exp``,
   ``expired`` at it) are given, each once (a compare-and-set on the notice's stage).

The issuer learns nothing of which credentials the citizens hold: it sees one request per
list per period from the deployment, the same whether one citizen holds a credential of
that list or a million.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.encoding import EncodingError, b64url_decode, strict_json_object
from core.http.client import OutboundFailed, OutboundRefused
from core.jose.algorithms import PublicKey
from core.sdjwt_vc.issuer_keys import IssuerKeyError
from core.status_list.bits import StatusList, StatusListError
from core.status_list.token import VerifiedStatusList, verify_status_list_token
from wallet.domain import (
    ActivityKind,
    CredentialRecord,
    ExpiryDue,
    NotificationKind,
    WatchedList,
)
from wallet.services.activity import stamp
from wallet.services.activity_messages import (
    CredentialExpiredEntry,
    CredentialExpiringSoonEntry,
    CredentialReinstatedEntry,
    CredentialRevokedEntry,
    CredentialSuspendedEntry,
)
from wallet.services.context import WalletContext
from wallet.services.display import pick
from wallet.services.notification_messages import NotificationContent
from wallet.services.notifications import notify
from wallet.services.sealing import AccountBox
from wallet.services.status_watch_index import watch_credential, watch_key

log = logging.getLogger("idwallet.wallet")
#: The named task the workers lease: one of them runs the passes at a time.
WATCH_TASK = "status-watching"
#: Seconds between fetches of a list whose token names no ``ttl`` (within the bounds).
DEFAULT_TTL = 3600.0
_CHUNK = 4096
_VALID, _REVOKED, _SUSPENDED = 0, 1, 2
_ENTRIES: dict[
    NotificationKind,
    type[CredentialRevokedEntry]
    | type[CredentialSuspendedEntry]
    | type[CredentialReinstatedEntry]
    | type[CredentialExpiringSoonEntry]
    | type[CredentialExpiredEntry],
] = {
    NotificationKind.REVOKED: CredentialRevokedEntry,
    NotificationKind.SUSPENDED: CredentialSuspendedEntry,
    NotificationKind.REINSTATED: CredentialReinstatedEntry,
    NotificationKind.EXPIRING_SOON: CredentialExpiringSoonEntry,
    NotificationKind.EXPIRED: CredentialExpiredEntry,
}
assert {e.__struct_config__.tag for e in _ENTRIES.values()} <= {k.value for k in ActivityKind}


@dataclass(slots=True)
class WatchReport:
    indexed: int = 0
    lists_checked: int = 0
    lists_changed: int = 0
    failures: int = 0
    notified: int = 0
    expiry_notices: int = 0
    lists_forgotten: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


def changed_indices(old: StatusList | None, new: StatusList) -> list[int]:
    """The indices whose status differs between two lists (``old`` None: a list of valid
    entries). Equal stretches are compared whole, so an unchanged list costs a memcmp."""
    bits = new.bits
    before = bytes(old.data) if old is not None and old.bits == bits else b""
    after = bytes(new.data)
    per_byte, mask = 8 // bits, (1 << bits) - 1
    found: list[int] = []
    for start in range(0, len(after), _CHUNK):
        stretch = after[start : start + _CHUNK]
        was = before[start : start + _CHUNK].ljust(len(stretch), b"\0")
        if was == stretch:
            continue
        for offset, (p, q) in enumerate(zip(was, stretch, strict=True)):
            if p == q:
                continue
            for slot in range(per_byte):
                shift = slot * bits
                if (p >> shift) & mask != (q >> shift) & mask:
                    found.append((start + offset) * per_byte + slot)
    return found


def _transition(pairs: list[tuple[int, int]]) -> NotificationKind | None:
    """What a credential's instances' (old, new) statuses amount to for the citizen."""
    if any(new == _REVOKED and old != _REVOKED for old, new in pairs):
        return NotificationKind.REVOKED
    if any(new == _SUSPENDED and old != _SUSPENDED for old, new in pairs):
        return NotificationKind.SUSPENDED
    if any(old == _SUSPENDED and new == _VALID for old, new in pairs):
        return NotificationKind.REINSTATED
    return None


def _status_list_claim(token: str) -> str:
    """The verified token's ``status_list`` member as it was sent (kept for the next
    comparison without compressing the list again)."""
    payload = strict_json_object(b64url_decode(token.split(".")[1]), max_bytes=len(token))
    return json.dumps(payload["status_list"], separators=(",", ":"), sort_keys=True)


class _Boxes:
    """The accounts' boxes, each unwrapped once per pass."""

    def __init__(self, context: WalletContext) -> None:
        self._context = context
        self._boxes: dict[str, AccountBox] = {}

    async def get(self, account_id: str) -> AccountBox | None:
        if account_id not in self._boxes:
            try:
                self._boxes[account_id] = await self._context.box(account_id)
            except LookupError:
                return None
        return self._boxes[account_id]


async def _record(
    context: WalletContext, box: AccountBox, credential_id: str
) -> CredentialRecord | None:
    stored = await context.store.credentials.get(box.account_id, credential_id)
    if stored is None:
        return None
    return CredentialRecord.from_json(box.open("credential", credential_id, stored.sealed))


async def _tell(
    context: WalletContext,
    box: AccountBox,
    credential_id: str,
    record: CredentialRecord,
    kind: NotificationKind,
) -> None:
    name = (pick(record.credential_display, []) or {}).get("name", record.configuration_id)
    issuer_name = (pick(record.issuer_display, []) or {}).get("name", record.issuer)
    expires_at = int(record.expires_at) if record.expires_at is not None else None
    entry = _ENTRIES[kind](
        **stamp(context),
        credential_id=credential_id,
        issuer=record.issuer,
        credential=name,
    )
    content = NotificationContent(
        credential_id=credential_id, credential=name, issuer=record.issuer, issuer_name=issuer_name
    )
    if expires_at is not None and kind in (
        NotificationKind.EXPIRING_SOON,
        NotificationKind.EXPIRED,
    ):
        content.expires_at = expires_at
    await notify(context, box, kind, content, activity=entry)


class StatusWatcher:
    """One pass of the watching (see the module's text)."""

    def __init__(
        self, context: WalletContext, keep_lease: Callable[[], Awaitable[bool]] | None = None
    ) -> None:
        self.context = context
        self.boxes = _Boxes(context)
        self.report = WatchReport()
        #: Renews this worker's lease on the task; False: another worker holds it now.
        self.keep_lease = keep_lease

    async def run(self) -> WatchReport:
        await self.index_unwatched()
        policy = self.context.policy
        now = self.context.clock.now()
        for watched in await self.context.store.status_watching.due_lists(
            now, policy.watch_lists_per_pass
        ):
            if self.keep_lease is not None and not await self.keep_lease():
                return self.report  # the lease lapsed: the worker that took it goes on
            await self.check_list(watched)
        self.report.lists_forgotten = await self.context.store.status_watching.forget_lists(now)
        await self.expiry_notices()
        return self.report

    async def index_unwatched(self) -> None:
        context = self.context
        for account_id, credential_id in await context.store.status_watching.unwatched(
            context.policy.watch_backfill_per_pass
        ):
            box = await self.boxes.get(account_id)
            record = None if box is None else await _record(context, box, credential_id)
            if record is not None:
                await watch_credential(context, account_id, credential_id, record)
                self.report.indexed += 1

    def _verified(self, watched: WatchedList, token: str) -> VerifiedStatusList:
        trust = self.context.issuer_trust

        def key(header: Mapping[str, Any]) -> PublicKey:
            return trust.resolve_now(header, {"iss": watched.issuer}).key

        verified = verify_status_list_token(
            token, key, expected_uri=watched.uri, now=self.context.clock.now()
        )
        trust.resolve_now(verified.header, {"iss": watched.issuer})  # names this issuer
        return verified

    def _next_fetch(self, verified: VerifiedStatusList, now: float) -> float:
        policy = self.context.policy
        period = float(verified.ttl) if verified.ttl is not None else DEFAULT_TTL
        if verified.expires_at is not None:
            period = min(period, verified.expires_at - now)
        return now + min(max(period, policy.watch_floor), policy.watch_ceiling)

    async def check_list(self, watched: WatchedList) -> None:
        context, store = self.context, self.context.store.status_watching
        now = context.clock.now()
        self.report.lists_checked += 1
        try:
            token = await context.documents.fetch(watched.uri)
            verified = self._verified(watched, token)
            claim = _status_list_claim(token)
        except (
            OutboundFailed,
            OutboundRefused,
            StatusListError,
            IssuerKeyError,
            EncodingError,
        ) as exc:
            failures = watched.failures + 1
            backoff = context.policy.watch_floor * 2 ** min(failures - 1, 16)
            log.info("status list %s: %s", watched.list_key[:12], type(exc).__name__)
            self.report.failures += 1
            await store.fetched(
                watched.list_key,
                last_list=None,
                last_digest=None,
                next_fetch_at=now + min(backoff, context.policy.watch_ceiling),
                failures=failures,
                counted=True,
                at=now,
            )
            return
        digest = hashlib.sha256(token.encode("ascii")).hexdigest()
        if digest != watched.last_digest:
            previous = None
            if watched.last_list is not None:
                try:
                    previous = StatusList.from_json(json.loads(watched.last_list))
                except (StatusListError, ValueError):
                    previous = None
            if previous is None or previous.data != verified.status_list.data:
                await self.tell_changes(watched, previous, verified.status_list)
        await store.fetched(
            watched.list_key,
            last_list=claim,
            last_digest=digest,
            next_fetch_at=self._next_fetch(verified, now),
            failures=0,
            counted=True,
            at=now,
        )

    async def tell_changes(
        self, watched: WatchedList, previous: StatusList | None, current: StatusList
    ) -> None:
        context = self.context
        changed = changed_indices(previous, current)
        if not changed:
            return
        self.report.lists_changed += 1
        by_key = {watch_key(context.watch_secret, watched.uri, index): index for index in changed}
        per_credential: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for key, account_id, credential_id in await context.store.status_watching.watchers(
            list(by_key)
        ):
            index = by_key[key]
            old = previous.get(index) if previous is not None and index < previous.capacity else 0
            per_credential.setdefault((account_id, credential_id), []).append(
                (old, current.get(index))
            )
        for (account_id, credential_id), pairs in per_credential.items():
            kind = _transition(pairs)
            if kind is None:
                continue
            box = await self.boxes.get(account_id)
            record = None if box is None else await _record(context, box, credential_id)
            if box is None or record is None:
                continue  # deleted meanwhile
            await _tell(context, box, credential_id, record, kind)
            self.report.notified += 1
            self.report.kinds[kind.value] = self.report.kinds.get(kind.value, 0) + 1

    async def expiry_notices(self) -> None:
        context, store = self.context, self.context.store.status_watching
        now = context.clock.now()
        for due in await store.expiry_due(now, context.policy.expiry_notices_per_pass):
            await self.expiry_notice(due, now)

    async def expiry_notice(self, due: ExpiryDue, now: float) -> None:
        store = self.context.store.status_watching
        if due.stage == 0 and now < due.expires_at:
            kind, moved = (
                NotificationKind.EXPIRING_SOON,
                await store.expiry_noticed(
                    due.credential_id, 0, next_stage=1, due_at=due.expires_at
                ),
            )
        else:
            kind, moved = (
                NotificationKind.EXPIRED,
                await store.expiry_noticed(due.credential_id, due.stage, next_stage=2, due_at=None),
            )
        if not moved:
            return  # another pass gave it
        box = await self.boxes.get(due.account_id)
        record = None if box is None else await _record(self.context, box, due.credential_id)
        if box is None or record is None:
            return
        await _tell(self.context, box, due.credential_id, record, kind)
        self.report.expiry_notices += 1
        self.report.kinds[kind.value] = self.report.kinds.get(kind.value, 0) + 1


async def watch_pass(
    context: WalletContext, keep_lease: Callable[[], Awaitable[bool]] | None = None
) -> WatchReport:
    return await StatusWatcher(context, keep_lease).run()
