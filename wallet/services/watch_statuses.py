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
   status changed are hashed with the watch key and looked up in the index. The new
   version is recorded, and the credentials found marked, in one transaction that only
   the first worker to see that version gets to make (a compare-and-set on the version
   seen before): another pass that fetched the same version at the same time, after
   its lease lapsed, marks nothing. A list fetched for the first time is compared with a
   list of valid entries (so a credential already revoked when the watching began is
   told of). Whatever fails with one list is that list's failure alone.
4. Each marked credential (and each credential just indexed) is looked at: its status is
   that of its instances on every list it references, as last recorded (revoked if one
   is, else suspended if one is, else valid). When that differs from what the citizen was
   last told, they get one notification (``revoked``, ``suspended`` or ``reinstated``)
   and an activity entry, written in the transaction that moves what was told on (a
   compare-and-set on it and on the mark): a credential with instances on two lists is
   told once, a further instance revoked is not news, and a suspension is over only when
   no instance is suspended. What fails for one credential leaves it marked for the next
   pass.
5. Expiry notices that are due (``expiring_soon`` ``expiry_notice_days`` before ``exp``,
   ``expired`` at it) are given, each once (a compare-and-set on the notice's stage, in
   the transaction that writes the notification), whatever befell the lists.

A pass that leaves lists due or credentials marked (a mass revocation) says so
(``WatchReport.more``): the next one starts at once.

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
    Notice,
    NotificationKind,
    PendingWatch,
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
from wallet.services.notifications import announce_in_turn, prepare_notice
from wallet.services.sealing import AccountBox
from wallet.services.status_watch_index import (
    REINDEX_AFTER,
    REVOKED,
    SUSPENDED,
    TOLD_UNKNOWN,
    VALID,
    list_key,
    status_references,
    told_key,
    told_status,
    watch_credential,
    watch_key,
)

log = logging.getLogger("idwallet.wallet")
#: The named task the workers lease: one of them runs the passes at a time.
WATCH_TASK = "status-watching"
#: Seconds between fetches of a list whose token names no ``ttl`` (within the bounds).
DEFAULT_TTL = 3600.0
_CHUNK = 4096
#: Marked credentials looked at together (their lists read once for them).
_BATCH = 500
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
    #: Lists were still due when the pass ended (the next one starts at once).
    more: bool = False


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


def credential_status(record: CredentialRecord, lists: Mapping[str, StatusList]) -> int:
    """The credential's status for the citizen from its instances' on ``lists`` (by list
    key; a list not fetched yet counts as valid): revoked if one instance is, else
    suspended if one is, else valid."""
    status = VALID
    for uri, index in status_references(record):
        current = lists.get(list_key(record.issuer, uri))
        if current is None or index >= current.capacity:
            continue
        value = current.get(index)
        if value == REVOKED:
            return REVOKED
        if value == SUSPENDED:
            status = SUSPENDED
    return status


def _transition(told: int, status: int) -> NotificationKind | None:
    """What the credential's status moving from ``told`` to ``status`` is for the citizen."""
    if status == told:
        return None
    if status == REVOKED:
        return NotificationKind.REVOKED
    if status == SUSPENDED:
        return NotificationKind.SUSPENDED
    return NotificationKind.REINSTATED


def _status_list_claim(token: str) -> str:
    """The verified token's ``status_list`` member as it was sent (kept for the next
    comparison without compressing the list again)."""
    payload = strict_json_object(b64url_decode(token.split(".")[1]), max_bytes=len(token))
    return json.dumps(payload["status_list"], separators=(",", ":"), sort_keys=True)


def _parsed(last_list: str | None) -> StatusList | None:
    if last_list is None:
        return None
    try:
        return StatusList.from_json(json.loads(last_list))
    except (StatusListError, ValueError, TypeError):
        return None


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


def _notice(
    context: WalletContext,
    box: AccountBox,
    credential_id: str,
    record: CredentialRecord,
    kind: NotificationKind,
) -> Notice:
    name = (pick(record.credential_display, []) or {}).get("name", record.configuration_id)
    issuer_name = (pick(record.issuer_display, []) or {}).get("name", record.issuer)
    entry = _ENTRIES[kind](
        **stamp(context),
        credential_id=credential_id,
        issuer=record.issuer,
        credential=name,
    )
    content = NotificationContent(
        credential_id=credential_id, credential=name, issuer=record.issuer, issuer_name=issuer_name
    )
    if record.expires_at is not None and kind in (
        NotificationKind.EXPIRING_SOON,
        NotificationKind.EXPIRED,
    ):
        content.expires_at = int(record.expires_at)
    return prepare_notice(context, box, kind, content, entry)


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
        #: Lists parsed this pass, by their digest.
        self._parsed: dict[str, StatusList | None] = {}

    async def _leased(self) -> bool:
        return self.keep_lease is None or await self.keep_lease()

    async def run(self) -> WatchReport:
        store = self.context.store.status_watching
        try:
            await self.index_unwatched()
            if await self.check_due_lists():
                await self.settle_pending()
                self.report.lists_forgotten = await store.forget_lists(self.context.clock.now())
        except Exception as exc:
            self.report.failures += 1
            log.warning("status watching: %s", type(exc).__name__)
        await self.expiry_notices()
        return self.report

    async def index_unwatched(self) -> None:
        context = self.context
        for account_id, credential_id in await context.store.status_watching.unwatched(
            context.policy.watch_backfill_per_pass,
            indexed_before=context.clock.now() - REINDEX_AFTER,
        ):
            try:
                box = await self.boxes.get(account_id)
                record = None if box is None else await _record(context, box, credential_id)
                if record is not None:
                    await watch_credential(context, account_id, credential_id, record)
                    self.report.indexed += 1
            except Exception as exc:
                self.report.failures += 1
                log.warning("credential %s not indexed: %s", credential_id, type(exc).__name__)

    async def check_due_lists(self) -> bool:
        """Fetch the lists that are due; False where the lease was taken over."""
        context = self.context
        limit = context.policy.watch_lists_per_pass
        due = await context.store.status_watching.due_lists(context.clock.now(), limit + 1)
        self.report.more = len(due) > limit
        for watched in due[:limit]:
            if not await self._leased():
                return False  # the lease lapsed: the worker that took it goes on
            await self.check_list(watched)
        return True

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
        """Fetch, verify and compare one list; any failure is this list's (asked again
        after the floor, doubling with each further failure)."""
        now = self.context.clock.now()
        self.report.lists_checked += 1
        try:
            await self._check_list(watched, now)
        except (
            OutboundFailed,
            OutboundRefused,
            StatusListError,
            IssuerKeyError,
            EncodingError,
        ) as exc:
            log.info("status list %s: %s", watched.list_key[:12], type(exc).__name__)
            await self._failed(watched, now)
        except Exception as exc:
            log.warning("status list %s: %s", watched.list_key[:12], type(exc).__name__)
            await self._failed(watched, now)

    async def _failed(self, watched: WatchedList, now: float) -> None:
        context = self.context
        self.report.failures += 1
        failures = watched.failures + 1
        backoff = context.policy.watch_floor * 2 ** min(failures - 1, 16)
        try:
            await context.store.status_watching.fetched(
                watched.list_key,
                seen_digest=watched.last_digest,
                next_fetch_at=now + min(backoff, context.policy.watch_ceiling),
                failures=failures,
                at=now,
            )
        except Exception as exc:
            log.warning("status list %s: %s", watched.list_key[:12], type(exc).__name__)

    async def _check_list(self, watched: WatchedList, now: float) -> None:
        context, store = self.context, self.context.store.status_watching
        token = await context.documents.fetch(watched.uri)
        verified = self._verified(watched, token)
        claim = _status_list_claim(token)
        digest = hashlib.sha256(token.encode("ascii")).hexdigest()
        next_fetch_at = self._next_fetch(verified, now)
        if digest == watched.last_digest:
            await store.fetched(
                watched.list_key,
                seen_digest=digest,
                next_fetch_at=next_fetch_at,
                failures=0,
                at=now,
            )
            return
        previous = _parsed(watched.last_list)
        current = verified.status_list
        changed = (
            changed_indices(previous, current)
            if previous is None or previous.data != current.data or previous.bits != current.bits
            else []
        )
        keys = [watch_key(context.watch_secret, watched.uri, index) for index in changed]
        concerned = sorted({c for _, _, c in await store.watchers(keys)}) if keys else []
        claimed = await store.claim_list(
            watched.list_key,
            seen_digest=watched.last_digest,
            last_list=claim,
            last_digest=digest,
            next_fetch_at=next_fetch_at,
            at=now,
            concerned=concerned,
        )
        if not claimed:
            log.info("status list %s: recorded by another pass", watched.list_key[:12])
        elif changed:
            self.report.lists_changed += 1

    async def settle_pending(self) -> None:
        """Look at each marked credential (see the module's text), a batch at a time."""
        store = self.context.store.status_watching
        after = ""
        while await self._leased():
            batch = await store.pending(after, _BATCH)
            if not batch:
                return
            after = batch[-1].credential_id
            await self._settle_batch(batch)

    async def _settle_batch(self, batch: list[PendingWatch]) -> None:
        context = self.context
        records: dict[str, tuple[AccountBox, CredentialRecord] | None] = {}
        for pending in batch:
            try:
                box = await self.boxes.get(pending.account_id)
                record = None if box is None else await _record(context, box, pending.credential_id)
                records[pending.credential_id] = (
                    None if box is None or record is None else (box, record)
                )
            except Exception as exc:
                self.report.failures += 1
                log.warning("credential %s: %s", pending.credential_id, type(exc).__name__)
        # the lists as recorded now: read after the marks were, so a version recorded
        # since moved the mark on, and settling with what was read here does nothing
        keys = sorted(
            {
                list_key(record.issuer, uri)
                for held in records.values()
                if held is not None
                for record in (held[1],)
                for uri, _ in status_references(record)
            }
        )
        lists: dict[str, StatusList] = {}
        for key, (digest, last_list) in (
            await context.store.status_watching.last_lists(keys)
        ).items():
            if digest not in self._parsed:
                self._parsed[digest] = _parsed(last_list)
            parsed = self._parsed[digest]
            if parsed is not None:
                lists[key] = parsed
        for pending in batch:
            if pending.credential_id not in records:
                continue  # could not be opened: it stays marked
            try:
                await self._settle(pending, records[pending.credential_id], lists)
            except Exception as exc:
                self.report.failures += 1
                log.warning("credential %s: %s", pending.credential_id, type(exc).__name__)

    async def _settle(
        self,
        pending: PendingWatch,
        held: tuple[AccountBox, CredentialRecord] | None,
        lists: Mapping[str, StatusList],
    ) -> None:
        context, store = self.context, self.context.store.status_watching
        secret = context.watch_secret
        told = told_status(secret, pending.credential_id, pending.told)
        status = told if held is None else credential_status(held[1], lists)
        if held is None and pending.told == TOLD_UNKNOWN:
            status = VALID
        kind = None if pending.told == TOLD_UNKNOWN else _transition(told, status)
        notice = None
        if held is not None and kind is not None:
            notice = _notice(context, held[0], pending.credential_id, held[1], kind)
        settled = await store.settle(
            pending.credential_id,
            pending=pending.pending,
            told=pending.told,
            becomes=told_key(secret, pending.credential_id, status),
            notice=notice,
        )
        if settled and notice is not None and kind is not None and held is not None:
            self.report.notified += 1
            self.report.kinds[kind.value] = self.report.kinds.get(kind.value, 0) + 1
            await announce_in_turn(context, held[0], notice.notification)

    async def expiry_notices(self) -> None:
        context = self.context
        now = context.clock.now()
        try:
            due = await context.store.status_watching.expiry_due(
                now, context.policy.expiry_notices_per_pass
            )
        except Exception as exc:
            self.report.failures += 1
            log.warning("expiry notices: %s", type(exc).__name__)
            return
        for one in due:
            try:
                await self.expiry_notice(one, now)
            except Exception as exc:
                self.report.failures += 1
                log.warning("credential %s: %s", one.credential_id, type(exc).__name__)

    async def expiry_notice(self, due: ExpiryDue, now: float) -> None:
        store = self.context.store.status_watching
        if due.stage == 0 and now < due.expires_at:
            kind, next_stage, due_at = NotificationKind.EXPIRING_SOON, 1, due.expires_at
        else:
            kind, next_stage, due_at = NotificationKind.EXPIRED, 2, None
        box = await self.boxes.get(due.account_id)
        record = None if box is None else await _record(self.context, box, due.credential_id)
        notice = None
        if box is not None and record is not None:
            notice = _notice(self.context, box, due.credential_id, record, kind)
        moved = await store.expiry_noticed(
            due.credential_id, due.stage, next_stage=next_stage, due_at=due_at, notice=notice
        )
        if not moved or notice is None or box is None:
            return  # another pass gave it, or the credential is gone
        self.report.expiry_notices += 1
        self.report.kinds[kind.value] = self.report.kinds.get(kind.value, 0) + 1
        await announce_in_turn(self.context, box, notice.notification)


async def watch_pass(
    context: WalletContext, keep_lease: Callable[[], Awaitable[bool]] | None = None
) -> WatchReport:
    return await StatusWatcher(context, keep_lease).run()
