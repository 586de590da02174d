"""The live stream of a citizen's new notifications (``GET /wallet/notifications/stream``,
server-sent events): what this worker stores for the account wakes the stream at once;
what other workers store is found by looking at the store every ``stream_poll`` seconds
(a notification's time may precede its commit a little, so each look reaches back a few
seconds and skips what was sent). It carries what is new from the moment it opens: what
the first look finds from before then is taken as sent (the client read the feed). A
keep-alive comes every ``stream_keepalive`` seconds. The stream ends when the session's
access token expires (``ends_at``), and when its device is revoked: at once on the worker
that revoked it, within ``DEVICE_CHECK`` seconds on the others; the client opens another
with a fresh token.

The stream's slot in the worker's bound (``NotificationHub``) is taken when the stream
starts and given back when it ends, however it ends: a client gone before the first byte
takes none."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

from wallet.services.context import WalletContext
from wallet.services.notification_hub import StreamSlot, TooManyStreams
from wallet.services.notification_messages import Notification
from wallet.services.notifications import view
from wallet.services.sessions import Session

#: Seconds each look at the store reaches back before the newest notification sent.
REACH_BACK = 10.0
#: Seconds between two checks that the stream's device is still active.
DEVICE_CHECK = 30.0


async def notification_stream(
    context: WalletContext,
    session: Session,
    ends_at: float,
    wait: float | None = None,
    *,
    opened_at: float | None = None,
) -> AsyncGenerator[Notification | None, None]:
    """``follow_notifications`` in a slot of this worker's streams, taken here and given
    back when the stream ends (nothing when the worker's or the account's streams are at
    their bound: the stream ends at once, the client opens another later)."""
    hub = context.notices
    try:
        slot = hub.open_stream(session.account_id, session.device_id)
    except TooManyStreams:
        return
    try:
        async with contextlib.aclosing(
            follow_notifications(context, session, slot, ends_at, wait, opened_at=opened_at)
        ) as notes:
            async for note in notes:
                yield note
    finally:
        hub.close_stream(slot)


async def follow_notifications(
    context: WalletContext,
    session: Session,
    slot: StreamSlot,
    ends_at: float,
    wait: float | None = None,
    *,
    opened_at: float | None = None,
) -> AsyncGenerator[Notification | None, None]:
    """New notifications as they come; None for a keep-alive. ``ends_at``: when the
    session's access token expires (the clock's time); ``wait``: the seconds the stream
    stays open at most; ``opened_at``: when the citizen asked for it (what is older is
    not sent; now when not given)."""
    loop = asyncio.get_running_loop()
    policy = context.policy
    account_id = session.account_id
    box = await context.box(account_id)
    started = context.clock.now() if opened_at is None else opened_at
    lifetime = max(0.0, min(float(policy.access_token_lifetime), ends_at - started))
    ends = loop.time() + (lifetime if wait is None else min(wait, lifetime))
    cursor = started
    sent: dict[str, float] = {}
    first = True
    spoke = checked = loop.time()
    while loop.time() < ends and not slot.ended:
        slot.wake.clear()
        for stored in await context.store.notifications.since(account_id, cursor - REACH_BACK, 100):
            if stored.notification_id in sent:
                continue
            sent[stored.notification_id] = stored.at
            if first and stored.at < started:
                continue  # made before the stream opened: the feed has it
            cursor = max(cursor, stored.at)
            spoke = loop.time()
            yield view(box, stored)
        first = False
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
            await asyncio.wait_for(slot.wake.wait(), timeout=timeout)
