"""The citizen's notifications (``GET /wallet/notifications``, the live stream, Web Push)
and the bodies of the push subscriptions (the browser's ``PushSubscription.toJSON()``,
W3C Push API §4.3, with the keys of RFC 8291 §3)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from core.messages import Message
from wallet.services.holding_messages import EXAMPLE_ISSUER, EXAMPLE_NATIONAL_ID, Timestamp

NotificationKindName = Annotated[
    Literal[
        "revoked",
        "suspended",
        "reinstated",
        "expiring_soon",
        "expired",
        "deferred_ready",
        "device_added",
    ],
    msgspec.Meta(
        description="What happened: a held credential was revoked, suspended or reinstated "
        "by its issuer, expires soon or expired; a deferred credential arrived; a device "
        "was added to the account."
    ),
]


_EXAMPLE_P256DH = (
    "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
)


class NotificationContent(Message):
    """What a notification is about, sealed under the citizen's data key."""

    credential_id: str | UnsetType = UNSET
    credential: Annotated[str, msgspec.Meta(description="The credential's name.")] | UnsetType = (
        UNSET
    )
    issuer: (
        Annotated[str, msgspec.Meta(description="The issuer's identifier (a URL).")] | UnsetType
    ) = UNSET
    issuer_name: str | UnsetType = UNSET
    expires_at: Timestamp | UnsetType = UNSET
    device_id: str | UnsetType = UNSET


class Notification(NotificationContent, kw_only=True):
    notification_id: Annotated[str, msgspec.Meta(examples=["n-0001"])]
    at: Timestamp
    kind: NotificationKindName
    unread: bool


class NotificationList(Message):
    notifications: Annotated[list[Notification], msgspec.Meta(description="Newest first.")]
    unread: Annotated[int, msgspec.Meta(description="Unread notifications in all.")]
    next_before: (
        Annotated[
            str,
            msgspec.Meta(
                description="Where there are older ones: pass as `before` for the next page."
            ),
        ]
        | UnsetType
    ) = UNSET


class NotificationsRead(Message):
    marked: Annotated[int, msgspec.Meta(description="Notifications marked read now.")]
    unread: int


class PushKeys(Message, forbid_unknown_fields=True):
    p256dh: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^[A-Za-z0-9_-]{86,88}={0,2}$",
            description="The browser's P-256 public key (uncompressed point, base64url).",
            examples=[_EXAMPLE_P256DH],
        ),
    ]
    auth: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^[A-Za-z0-9_-]{22}(==)?$",
            description="The browser's 16-byte authentication secret (base64url).",
            examples=["tBHItJI5svbpez7KI4CCXg"],
        ),
    ]


class PushSubscriptionBody(Message, forbid_unknown_fields=True):
    """The browser's push subscription as ``PushSubscription.toJSON()`` gives it."""

    endpoint: Annotated[
        str,
        msgspec.Meta(
            max_length=2048,
            description="The push service's URL for this browser (https).",
            examples=["https://push.example.net/push/v2/gAAAAABkZ3x7"],
        ),
    ]
    keys: Annotated[
        PushKeys,
        msgspec.Meta(
            description="The browser's keys for the message encryption (RFC 8291 §3).",
            examples=[
                {
                    "p256dh": _EXAMPLE_P256DH,
                    "auth": "tBHItJI5svbpez7KI4CCXg",
                }
            ],
        ),
    ]
    expirationTime: (  # noqa: N815 - the Push API's member name
        Annotated[
            int | None,
            msgspec.Meta(
                description="When the subscription ends (ms since the epoch), as the browser "
                "says; not used.",
                examples=[1767312000000],
            ),
        ]
        | UnsetType
    ) = UNSET


class PushSubscriptionCreated(Message):
    subscription_id: str


class PushSubscriptionDeleted(Message):
    subscription_id: str
    deleted: bool


class PushSubscriptionView(Message, kw_only=True):
    """A browser the citizen subscribed (its endpoint and keys stay sealed)."""

    subscription_id: str
    created_at: Annotated[int, msgspec.Meta(description="When it subscribed (seconds).")]
    device_id: (
        Annotated[str, msgspec.Meta(description="The device whose session subscribed it.")]
        | UnsetType
    ) = UNSET
    current: Annotated[
        bool, msgspec.Meta(description="Subscribed from the device of this session.")
    ]


class PushSubscriptionList(Message):
    subscriptions: list[PushSubscriptionView]


class PushServerKey(Message):
    application_server_key: Annotated[
        str,
        msgspec.Meta(
            description="The deployment's VAPID public key (RFC 8292 §3.2: uncompressed "
            "P-256 point, base64url): the `applicationServerKey` of `pushManager.subscribe`."
        ),
    ]


class PushMessage(Message, kw_only=True):
    """What a push message carries (encrypted for the browser alone, RFC 8291): enough to
    show the notification; the wallet's feed has the rest."""

    notification_id: str
    kind: NotificationKindName
    credential: str | UnsetType = UNSET
    unread: int


# Examples for the API documentation ------------------------------------------------------

NOTIFICATION_LIST_EXAMPLE = NotificationList(
    notifications=[
        Notification(
            notification_id="n-0002",
            at=1767312000,
            kind="revoked",
            unread=True,
            credential_id=EXAMPLE_NATIONAL_ID.credential_id,
            credential="National identity card",
            issuer=EXAMPLE_ISSUER,
            issuer_name="Civil Registry",
        ),
        Notification(
            notification_id="n-0001",
            at=1767225600,
            kind="device_added",
            unread=False,
            device_id="d-7e1f4a90",
        ),
    ],
    unread=1,
)
NOTIFICATION_EXAMPLE = NOTIFICATION_LIST_EXAMPLE.notifications[0]
NOTIFICATIONS_READ_EXAMPLE = NotificationsRead(marked=1, unread=0)
PUSH_SERVER_KEY_EXAMPLE = PushServerKey(
    application_server_key="BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U"
)
PUSH_SUBSCRIPTION_CREATED_EXAMPLE = PushSubscriptionCreated(
    subscription_id="5b0d1c3e-2f4a-4e6b-8c9d-0a1b2c3d4e5f"
)
PUSH_SUBSCRIPTION_DELETED_EXAMPLE = PushSubscriptionDeleted(
    subscription_id="5b0d1c3e-2f4a-4e6b-8c9d-0a1b2c3d4e5f", deleted=True
)
PUSH_SUBSCRIPTION_LIST_EXAMPLE = PushSubscriptionList(
    subscriptions=[
        PushSubscriptionView(
            subscription_id="5b0d1c3e-2f4a-4e6b-8c9d-0a1b2c3d4e5f",
            created_at=1767225600,
            device_id="d-7e1f4a90",
            current=True,
        )
    ]
)
