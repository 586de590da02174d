"""The citizen's notifications: the feed, marking read, the live stream (server-sent
events, WHATWG HTML §9.2), and the browsers subscribed to Web Push (W3C Push API)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import jwt
import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage
from msgspec import to_builtins

from core.errors import InvalidRequest, ServiceBusy
from wallet.api.requests import (
    MAX_BODY,
    NO_STORE,
    WALLET_DEPENDENCIES,
    private,
    require_citizen_session,
)
from wallet.services.context import WalletContext
from wallet.services.notification_messages import (
    NOTIFICATION_EXAMPLE,
    NOTIFICATION_LIST_EXAMPLE,
    NOTIFICATIONS_READ_EXAMPLE,
    PUSH_SERVER_KEY_EXAMPLE,
    PUSH_SUBSCRIPTION_CREATED_EXAMPLE,
    PUSH_SUBSCRIPTION_DELETED_EXAMPLE,
    PUSH_SUBSCRIPTION_LIST_EXAMPLE,
    Notification,
    NotificationList,
    NotificationsRead,
    PushServerKey,
    PushSubscriptionBody,
    PushSubscriptionCreated,
    PushSubscriptionDeleted,
    PushSubscriptionList,
)
from wallet.services.notification_stream import notification_stream
from wallet.services.notifications import list_notifications, mark_all_read, mark_read
from wallet.services.push_subscriptions import (
    list_subscriptions,
    server_key,
    subscribe,
    unsubscribe,
)
from wallet.services.sessions import Session


def _example(value: Any) -> list[Example]:
    return [Example(value=to_builtins(value))]


def _token_expiry(authorization: str | None) -> float:
    """The ``exp`` of the access token ``require_citizen_session`` verified."""
    token = (authorization or "").removeprefix("Bearer ").strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    return float(claims["exp"])


class WalletNotificationController(Controller):
    path = "/wallet/notifications"
    tags = ["citizen mobile API"]  # noqa: RUF012 - litestar reads a list
    security = [{"citizenSession": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_citizen_session)
    dependencies = WALLET_DEPENDENCIES
    opt = {"rate_limit": "citizen"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)
    request_max_body_size = MAX_BODY

    @get(
        "/",
        operation_id="listNotifications",
        summary="The citizen's notifications, newest first, with the unread count",
        description="Credentials revoked, suspended, reinstated, expiring soon or expired, "
        "deferred credentials that arrived, devices added. A page holds `limit` of them "
        "(at most 100); `next_before` names where the next page starts.",
        responses={
            200: ResponseSpec(
                NotificationList,
                description="A page of notifications",
                generate_examples=False,
                examples=_example(NOTIFICATION_LIST_EXAMPLE),
            )
        },
    )
    async def list(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        request: Request[Any, Any, Any],
        limit: Annotated[
            int,
            QueryParameter(name="limit", ge=1, le=100, description="Notifications on this page."),
        ] = 50,
        before: Annotated[
            str | None,
            QueryParameter(
                name="before",
                max_length=36,
                description="The `next_before` of the previous page: older ones only.",
            ),
        ] = None,
    ) -> Response[NotificationList]:
        unknown = sorted(set(request.query_params) - {"limit", "before"})
        if unknown:
            raise InvalidRequest(f"unknown query parameter {unknown[0][:64]!r}")
        return private(
            await list_notifications(context, session.account_id, limit=limit, before=before)
        )

    @post(
        "/{notification_id:str}/read",
        operation_id="markNotificationRead",
        summary="Mark one notification read",
        responses={
            200: ResponseSpec(
                Notification,
                description="The notification, read",
                generate_examples=False,
                examples=_example(NOTIFICATION_EXAMPLE),
            )
        },
        status_code=200,
    )
    async def read(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        notification_id: FromPath[str],
    ) -> Response[Notification]:
        return private(await mark_read(context, session.account_id, notification_id))

    @post(
        "/read-all",
        operation_id="markAllNotificationsRead",
        summary="Mark every notification read",
        responses={
            200: ResponseSpec(
                NotificationsRead,
                description="How many were marked",
                generate_examples=False,
                examples=_example(NOTIFICATIONS_READ_EXAMPLE),
            )
        },
        status_code=200,
    )
    async def read_all(
        self, context: NamedDependency[WalletContext], session: NamedDependency[Session]
    ) -> Response[NotificationsRead]:
        return private(await mark_all_read(context, session.account_id))

    @get(
        "/stream",
        operation_id="streamNotifications",
        summary="New notifications live, as server-sent events",
        description="Each event is named `notification` and its data is the Notification "
        "as JSON; a comment every 15 s keeps the connection open. The stream ends when "
        "the access token would have expired: open it again with a fresh one. At most 5 "
        "streams per citizen and a bound per worker (503 beyond).",
        media_type="text/event-stream",
        response_description="Server-sent events named `notification`",
        opt={"errors": (503,)},
    )
    async def stream(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        request: Request[Any, Any, Any],
        wait: Annotated[
            int | None,
            QueryParameter(
                name="wait",
                ge=1,
                le=3600,
                description="Seconds the stream stays open at most (the access token's "
                "lifetime when not given, and never beyond it): a client on a network that "
                "cuts long connections asks for less and opens the next one itself.",
            ),
        ] = None,
    ) -> ServerSentEvent:
        unknown = sorted(set(request.query_params) - {"wait"})
        if unknown:
            raise InvalidRequest(f"unknown query parameter {unknown[0][:64]!r}")
        if not context.notices.has_room(session.account_id):
            raise ServiceBusy("too many notification streams are open; retry shortly")
        ends_at = _token_expiry(request.headers.get("authorization"))
        opened_at = context.clock.now()

        async def events() -> AsyncIterator[ServerSentEventMessage]:
            # the stream's slot is taken when the body starts and given back however it
            # ends: a client gone before the first byte holds none
            async with contextlib.aclosing(
                notification_stream(context, session, ends_at, wait, opened_at=opened_at)
            ) as notes:
                async for notification in notes:
                    if notification is None:
                        yield ServerSentEventMessage(comment="keep-alive")
                    else:
                        yield ServerSentEventMessage(
                            data=msgspec.json.encode(notification).decode("utf-8"),
                            event="notification",
                            id=notification.notification_id,
                        )

        return ServerSentEvent(events(), headers={**NO_STORE, "X-Accel-Buffering": "no"})


class WalletPushSubscriptionController(Controller):
    path = "/wallet/push-subscriptions"
    tags = ["citizen mobile API"]  # noqa: RUF012 - litestar reads a list
    security = [{"citizenSession": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_citizen_session)
    dependencies = WALLET_DEPENDENCIES
    opt = {"rate_limit": "citizen"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)
    request_max_body_size = MAX_BODY

    @get(
        "/server-key",
        operation_id="getPushServerKey",
        summary="The VAPID public key browsers subscribe with",
        responses={
            200: ResponseSpec(
                PushServerKey,
                description="The application server key",
                generate_examples=False,
                examples=_example(PUSH_SERVER_KEY_EXAMPLE),
            )
        },
    )
    async def key(self, context: NamedDependency[WalletContext]) -> Response[PushServerKey]:
        return private(server_key(context))

    @post(
        "/",
        operation_id="subscribePush",
        summary="Subscribe a browser to Web Push (its PushSubscription.toJSON())",
        description="The endpoint must be a push service's https URL; the same endpoint "
        "subscribing again replaces its subscription. At most 10 per citizen (409). The "
        "subscription belongs to this session's device: revoking the device removes it.",
        responses={
            201: ResponseSpec(
                PushSubscriptionCreated,
                description="The subscription",
                generate_examples=False,
                examples=_example(PUSH_SUBSCRIPTION_CREATED_EXAMPLE),
            )
        },
        opt={"errors": (409,)},
        status_code=201,
    )
    async def add(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        data: JSONBody[PushSubscriptionBody],
    ) -> Response[PushSubscriptionCreated]:
        return private(
            await subscribe(context, session.account_id, session.device_id, data),
            status_code=201,
        )

    @get(
        "/",
        operation_id="listPushSubscriptions",
        summary="The browsers subscribed to Web Push",
        description="Each subscription with the device whose session made it (revoking "
        "that device removes it) and whether it is this session's device.",
        responses={
            200: ResponseSpec(
                PushSubscriptionList,
                description="The subscriptions",
                generate_examples=False,
                examples=_example(PUSH_SUBSCRIPTION_LIST_EXAMPLE),
            )
        },
    )
    async def list(
        self, context: NamedDependency[WalletContext], session: NamedDependency[Session]
    ) -> Response[PushSubscriptionList]:
        return private(await list_subscriptions(context, session.account_id, session.device_id))

    @delete(
        "/{subscription_id:str}",
        operation_id="unsubscribePush",
        summary="Remove a browser's push subscription",
        responses={
            200: ResponseSpec(
                PushSubscriptionDeleted,
                description="The subscription is removed",
                generate_examples=False,
                examples=_example(PUSH_SUBSCRIPTION_DELETED_EXAMPLE),
            )
        },
        status_code=200,
    )
    async def remove(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        subscription_id: FromPath[str],
    ) -> Response[PushSubscriptionDeleted]:
        return private(await unsubscribe(context, session.account_id, subscription_id))
