"""Telling an issuer what became of a credential (OpenID4VCI 1.0 §11): accepted,
refused by the wallet, or deleted by the citizen. Best effort: the citizen's credential
never depends on it."""

from __future__ import annotations

from core.messages import to_plain
from core.oid4vci import NotificationEvent, NotificationRequest
from wallet.services.context import WalletContext
from wallet.services.issuer_client import IssuerClient


async def notify_issuer(
    context: WalletContext,
    endpoint: str,
    access_token: str,
    notification_id: str,
    event: NotificationEvent,
) -> bool:
    """True when the issuer took the notification."""
    message = NotificationRequest(notification_id=notification_id, event=event)
    try:
        await IssuerClient(context.outbound).post(
            endpoint,
            "notification endpoint",
            json_body=to_plain(message),
            access_token=access_token,
        )
    except Exception:
        return False
    return True
