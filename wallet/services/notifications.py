"""The citizen's notifications: made when a held credential's status changes, when it
expires soon or expired, when a deferred credential arrives and when a device is added
(``notify``); listed newest first with an unread count, a page at a time; marked read.

A notification is sealed under the account's data key like the activity log (only its
kind, time and read time are in the clear). Each one reaches the citizen three ways: the
feed (``GET /wallet/notifications``), the live stream of every open web wallet, and Web
Push to each browser the citizen subscribed (``push_delivery``); the status changes and
expiry are written to the activity log too (a deferred credential's arrival and a new
device have their own entries there already: ``credential_received``,
``device_registered``).
"""

from __future__ import annotations

import logging
import uuid

import msgspec
from msgspec import UNSET

from wallet.domain import NotFound, Notice, NotificationKind, StoredNotification
from wallet.services.activity import sealed_entry
from wallet.services.activity_messages import ActivityLogEntry
from wallet.services.context import WalletContext
from wallet.services.notification_messages import (
    Notification,
    NotificationContent,
    NotificationList,
    NotificationsRead,
)
from wallet.services.push_delivery import deliver_push
from wallet.services.sealing import AccountBox

log = logging.getLogger("idwallet.wallet")


def view(box: AccountBox, stored: StoredNotification) -> Notification:
    content = box.open("notification", stored.notification_id, stored.sealed)
    return msgspec.convert(
        {
            **content,
            "notification_id": stored.notification_id,
            "at": int(stored.at),
            "kind": stored.kind.value,
            "unread": stored.read_at is None,
        },
        Notification,
    )


def prepare_notice(
    context: WalletContext,
    box: AccountBox,
    kind: NotificationKind,
    content: NotificationContent,
    activity: ActivityLogEntry | None = None,
) -> Notice:
    """The notification (and its activity entry) as stored, for a store that writes it
    in one transaction with what decides it is told (``announce`` once written)."""
    notification_id = str(uuid.uuid4())
    stored = StoredNotification(
        notification_id,
        box.account_id,
        context.clock.now(),
        kind,
        None,
        box.seal("notification", notification_id, msgspec.to_builtins(content)),
    )
    return Notice(stored, None if activity is None else sealed_entry(context, box, activity))


def announce(context: WalletContext, box: AccountBox, stored: StoredNotification) -> Notification:
    """A stored notification reaches the citizen live: this worker's streams of the
    account are woken, and it is pushed to the citizen's browsers in the background."""
    context.notices.wake(box.account_id)
    made = view(box, stored)
    if context.vapid is not None:
        context.notices.spawn(deliver_push(context, box, made))
    return made


async def announce_in_turn(
    context: WalletContext, box: AccountBox, stored: StoredNotification
) -> None:
    """``announce`` for the housekeeping: where many are told at once (a list revoking
    thousands), it waits for room among the pushes under way instead of leaving some out."""
    context.notices.wake(box.account_id)
    if context.vapid is not None:
        await context.notices.queue(deliver_push(context, box, view(box, stored)))


async def notify(
    context: WalletContext,
    box: AccountBox,
    kind: NotificationKind,
    content: NotificationContent,
    *,
    activity: ActivityLogEntry | None = None,
) -> Notification:
    """Store the notification (and its activity entry) and ``announce`` it."""
    notice = prepare_notice(context, box, kind, content, activity)
    await context.store.notifications.add(notice.notification)
    if notice.activity is not None:
        await context.store.activity.add(notice.activity)
    return announce(context, box, notice.notification)


async def tell(
    context: WalletContext, box: AccountBox, kind: NotificationKind, content: NotificationContent
) -> None:
    """``notify`` where what it tells of is done already (a device added, a credential
    stored): a failure is logged, never the failure of what was done."""
    try:
        await notify(context, box, kind, content)
    except Exception as exc:
        log.warning("a %s notification was not made: %s", kind.value, type(exc).__name__)


async def list_notifications(
    context: WalletContext, account_id: str, *, limit: int, before: str | None
) -> NotificationList:
    box = await context.box(account_id)
    limit = max(1, min(limit, context.policy.notifications_page_max))
    rows = await context.store.notifications.page(account_id, limit + 1, before)
    shown = [view(box, row) for row in rows[:limit]]
    return NotificationList(
        notifications=shown,
        unread=await context.store.notifications.unread(account_id),
        next_before=shown[-1].notification_id if len(rows) > limit else UNSET,
    )


async def mark_read(context: WalletContext, account_id: str, notification_id: str) -> Notification:
    store = context.store.notifications
    if not await store.mark_read(account_id, notification_id, context.clock.now()):
        raise NotFound("no such notification")
    stored = await store.get(account_id, notification_id)
    if stored is None:
        raise NotFound("no such notification")
    return view(await context.box(account_id), stored)


async def mark_all_read(context: WalletContext, account_id: str) -> NotificationsRead:
    marked = await context.store.notifications.mark_all_read(account_id, context.clock.now())
    return NotificationsRead(
        marked=marked, unread=await context.store.notifications.unread(account_id)
    )
