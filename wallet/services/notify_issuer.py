"""Telling an issuer what became of a credential (OpenID4VCI 1.0 §11): accepted,
refused by the wallet, or deleted by the citizen. Best effort: the citizen's credential
never depends on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.messages import to_plain
from core.oid4vci import NotificationEvent, NotificationRequest
from wallet.services.context import WalletContext
from wallet.services.issuer_client import IssuerClient

#: Sends a JSON body to a URL with the access token, however it is bound.
Send = Callable[[str, object], Awaitable[object]]


async def notify_issuer(
    context: WalletContext,
    endpoint: str,
    notification_id: str,
    event: NotificationEvent,
    *,
    access_token: str | None = None,
    send: Send | None = None,
) -> bool:
    """True when the issuer took the notification: sent by ``send`` (a DPoP-bound token),
    or with ``access_token`` as a bearer token."""
    body = to_plain(NotificationRequest(notification_id=notification_id, event=event))
    try:
        if send is not None:
            await send(endpoint, body)
        else:
            await IssuerClient(context.outbound).post(
                endpoint, "notification endpoint", json_body=body, access_token=access_token
            )
    except Exception:
        return False
    return True
