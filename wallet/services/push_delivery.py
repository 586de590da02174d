"""Web Push of a notification to each browser the citizen subscribed (RFC 8030 §5, the
message encrypted for that browser alone, RFC 8291, and signed with the deployment's VAPID
key, RFC 8292: ``core.web_push``), sent through the guarded outbound client like every
request this deployment makes (its SSRF guard, deadline and size cap).

The push service answers 201; 404 or 410 (RFC 8030 §7.3: the subscription expired or
was removed) removes the subscription; any other failure is logged by its kind and the
message is left to the feed and the live streams, which have it anyway. The message
carries the notification's id, kind and the credential's name, nothing else of the
citizen's; its plaintext never reaches the push service.
"""

from __future__ import annotations

import logging

import msgspec

from core.http.client import OutboundFailed, OutboundRefused
from core.web_push import PushSubscriptionError
from wallet.services.context import WalletContext
from wallet.services.notification_messages import Notification, PushMessage
from wallet.services.sealing import AccountBox

log = logging.getLogger("idwallet.wallet")
#: RFC 8030 §7.3: the subscription is gone for good.
GONE = frozenset({404, 410})


async def deliver_push(context: WalletContext, box: AccountBox, notification: Notification) -> None:
    """Push the notification to each of the account's subscriptions; never raises."""
    vapid = context.vapid
    if vapid is None:
        return
    try:
        subscriptions = await context.store.push_subscriptions.list(box.account_id)
        if not subscriptions:
            return
        unread = await context.store.notifications.unread(box.account_id)
    except Exception as exc:  # the database away: the feed has the notification
        log.warning("push delivery: %s", type(exc).__name__)
        return
    payload = msgspec.json.encode(
        PushMessage(
            notification_id=notification.notification_id,
            kind=notification.kind,
            credential=notification.credential,
            unread=unread,
        )
    )
    for subscription in subscriptions:
        sid = subscription.subscription_id
        try:
            held = box.open("push-subscription", subscription.subscription_id, subscription.sealed)
            endpoint = str(held["endpoint"])
            prepared = vapid.prepare(endpoint, str(held["p256dh"]), str(held["auth"]), payload)
            answer = await context.outbound.send(
                "POST",
                endpoint,
                accept="*/*",
                content=prepared.body,
                headers=prepared.headers,
                max_bytes=16 * 1024,
            )
        except (OutboundFailed, OutboundRefused, PushSubscriptionError) as exc:
            log.info(
                "push to subscription %s: %s", subscription.subscription_id, type(exc).__name__
            )
            continue
        except Exception as exc:
            log.warning("push to subscription %s: %s", sid, type(exc).__name__)
            continue
        if answer.status in GONE:
            await context.store.push_subscriptions.delete(box.account_id, sid)
            log.info(
                "push subscription %s is gone (%d)", subscription.subscription_id, answer.status
            )
        elif not 200 <= answer.status < 300:
            log.info("push to subscription %s: %d", sid, answer.status)
