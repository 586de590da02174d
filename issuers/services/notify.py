"""The Notification Endpoint (OpenID4VCI 1.0 §11): the wallet tells the agency whether
it kept the credentials (``credential_accepted``, ``credential_failure``,
``credential_deleted``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import InvalidNotificationId, InvalidNotificationRequest, InvalidToken
from issuers.services.codes import sha256_hex
from issuers.services.context import IssuerContext

EVENTS = frozenset({"credential_accepted", "credential_failure", "credential_deleted"})


async def record_notification(
    context: IssuerContext, issuer_id: str, access_token: str, request: Mapping[str, Any]
) -> None:
    grant = await context.grants.get(sha256_hex(access_token))
    if grant is None or grant.issuer_id != issuer_id or grant.expires_at <= context.clock.now():
        raise InvalidToken("the access token is not valid")
    notification_id, event = request.get("notification_id"), request.get("event")
    if not isinstance(notification_id, str) or not isinstance(event, str) or event not in EVENTS:
        raise InvalidNotificationRequest("notification_id and a known event are required")
    description = request.get("event_description")
    if description is not None and (not isinstance(description, str) or len(description) > 1000):
        raise InvalidNotificationRequest("event_description must be a short string")
    if not await context.ledger.record_event(grant.offer_id, notification_id, event):
        raise InvalidNotificationId("this notification_id is unknown for the access token")
