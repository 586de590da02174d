"""The live stream of a citizen's new notifications (``GET /wallet/notifications/stream``,
server-sent events): what this worker stores for the account wakes the stream at once;
what other workers store is found by looking at the store every ``stream_poll`` seconds
(a notification's time may precede its commit a little, so each look reaches back a few
seconds and skips what was sent). A keep-alive comes every ``stream_keepalive`` seconds.
The stream ends when the session's access token would have expired, or at once when its
device is revoked; the client opens another with a fresh token."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from wallet.services.context import WalletContext
from wallet.services.notification_messages import Notification
from wallet.services.notifications import view
from wallet.services.sessions import Session

#: Seconds each look at the store reaches back before the newest notification sent.
REACH_BACK = 10.0
#: Seconds between two checks that the stream's device is still active.
DEVICE_CHECK = 30.0


async def follow_notifications(
    context: WalletContext, session: Session, wake: asyncio.Event, wait: float | None = None
) -> AsyncIterator[Notification | None]:
    """New notifications as they come; None for a keep-alive. ``wake`` is the stream's
    event from ``NotificationHub.open_stream``, closed when the stream ends; ``wait``: the
    seconds it stays open at most (never beyond the access token's lifetime)."""
    loop = asyncio.get_running_loop()
    policy = context.policy
    account_id = session.account_id
    try:
        box = await context.box(account_id)
        lifetime = float(policy.access_token_lifetime)
        ends = loop.time() + (lifetime if wait is None else min(wait, lifetime))
        cursor = context.clock.now()
        sent: dict[str, float] = {}
        spoke = checked = loop.time()
        while loop.time() < ends:
            wake.clear()
            for stored in await context.store.notifications.since(
                account_id, cursor - REACH_BACK, 100
            ):
                if stored.notification_id in sent:
                    continue
                sent[stored.notification_id] = stored.at
                cursor = max(cursor, stored.at)
                spoke = loop.time()
                yield view(box, stored)
            sent = {key: at for key, at in sent.items() if at >= cursor - REACH_BACK}
            if loop.time() - checked >= DEVICE_CHECK:
                checked = loop.time()
                device = await context.store.devices.get(account_id, session.device_id)
                if device is None or not device.active:
                    return
            if loop.time() - spoke >= policy.stream_keepalive:
                spoke = loop.time()
                yield None
            timeout = min(policy.stream_poll, max(0.0, ends - loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=timeout)
    finally:
        context.notices.close_stream(account_id, wake)
