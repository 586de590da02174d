"""The browsers a citizen subscribed to Web Push (W3C Push API: the web wallet's service
worker subscribes with the deployment's VAPID public key and hands over
``PushSubscription.toJSON()``).

The endpoint must be a URL the outbound client would reach: ``https`` (plain ``http`` and
private addresses only where the deployment allows exact hosts for development,
``IDWALLET_OUTBOUND_ALLOW``), never this deployment's own origin; the keys must be a
P-256 point and a 16-byte secret (RFC 8291 §3). The endpoint and keys are sealed under
the citizen's data key; a keyed hash of the endpoint finds the same browser subscribing
again (its old row is replaced, whichever account it was under).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from urllib.parse import urlsplit

from msgspec import UNSET

from core.errors import InvalidRequest
from core.http.client import OutboundFailed, OutboundRefused
from core.web_push import PushSubscriptionError, check_subscription_keys
from wallet.domain import NotFound, StoredPushSubscription, TooManyUnfinished
from wallet.services.context import WalletContext
from wallet.services.notification_messages import (
    PushServerKey,
    PushSubscriptionBody,
    PushSubscriptionCreated,
    PushSubscriptionDeleted,
    PushSubscriptionList,
    PushSubscriptionView,
)


class PushUnavailable(NotFound):
    """This deployment sends no Web Push (no VAPID key: ``IDWALLET_VAPID_PRIVATE_KEY``)."""

    error = "push_unavailable"


class TooManySubscriptions(TooManyUnfinished):
    """The citizen subscribed as many browsers as the wallet keeps."""


def endpoint_key(context: WalletContext, endpoint: str) -> str:
    return hmac.new(
        context.watch_secret, b"push endpoint\0" + endpoint.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def server_key(context: WalletContext) -> PushServerKey:
    if context.vapid is None:
        raise PushUnavailable("this wallet sends no push messages")
    return PushServerKey(application_server_key=context.vapid.public_key)


async def _check_endpoint(context: WalletContext, endpoint: str) -> None:
    """Refused up front (the address is checked again at every delivery)."""
    try:
        await context.outbound.vet(endpoint)
    except (OutboundRefused, OutboundFailed) as exc:
        raise InvalidRequest(
            "endpoint must be an https URL of a push service", detail=str(exc)
        ) from exc
    if context.outbound.serves_locally(endpoint) or _origin(endpoint) == _origin(
        context.public_base_url
    ):
        raise InvalidRequest("endpoint must be a push service's URL, not this wallet's")


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port as a client connects to them (the default port written or
    not, the host's trailing dot or not, in any case)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return (
        scheme,
        (parts.hostname or "").rstrip(".").lower(),
        port or {"http": 80, "https": 443}.get(scheme),
    )


async def subscribe(
    context: WalletContext, account_id: str, device_id: str, body: PushSubscriptionBody
) -> PushSubscriptionCreated:
    """The browser subscribed from the session of ``device_id`` (revoking that device
    removes it)."""
    if context.vapid is None:
        raise PushUnavailable("this wallet sends no push messages")
    await _check_endpoint(context, body.endpoint)
    try:
        check_subscription_keys(body.keys.p256dh, body.keys.auth)
    except PushSubscriptionError as exc:
        raise InvalidRequest(f"keys: {exc}") from exc
    box = await context.box(account_id)
    subscription_id = str(uuid.uuid4())
    held = {"endpoint": body.endpoint, "p256dh": body.keys.p256dh, "auth": body.keys.auth}
    stored = StoredPushSubscription(
        subscription_id,
        account_id,
        endpoint_key(context, body.endpoint),
        box.seal("push-subscription", subscription_id, held),
        context.clock.now(),
        device_id,
    )
    cap = context.policy.push_subscriptions_per_account
    if not await context.store.push_subscriptions.add(stored, cap):
        raise TooManySubscriptions(
            f"you have {cap} browsers subscribed; remove one before adding another"
        )
    return PushSubscriptionCreated(subscription_id=subscription_id)


async def list_subscriptions(
    context: WalletContext, account_id: str, device_id: str
) -> PushSubscriptionList:
    return PushSubscriptionList(
        subscriptions=[
            PushSubscriptionView(
                subscription_id=s.subscription_id,
                created_at=int(s.created_at),
                device_id=UNSET if s.device_id is None else s.device_id,
                current=s.device_id == device_id,
            )
            for s in await context.store.push_subscriptions.list(account_id)
        ]
    )


async def unsubscribe(
    context: WalletContext, account_id: str, subscription_id: str
) -> PushSubscriptionDeleted:
    if not await context.store.push_subscriptions.delete(account_id, subscription_id):
        raise NotFound("no such push subscription")
    return PushSubscriptionDeleted(subscription_id=subscription_id, deleted=True)
