"""The Notification Endpoint (OpenID4VCI 1.0 §11): the wallet tells the agency whether
it kept the credentials (``credential_accepted``, ``credential_failure``,
``credential_deleted``)."""

from __future__ import annotations

from core.errors import InvalidNotificationId, InvalidToken
from core.oid4vci import NotificationRequest
from issuers.services.codes import sha256_hex
from issuers.services.context import IssuerContext
from issuers.services.sender_constraint import ProtectedRequest, presented_token


async def record_notification(
    context: IssuerContext, issuer_id: str, access: ProtectedRequest, request: NotificationRequest
) -> None:
    """With the access token of the credential request (a bound token with the DPoP proof
    of its key, ``issuers.services.sender_constraint``)."""
    presented = await presented_token(context, issuer_id, access, endpoint_name="notification")
    grant = await context.grants.get(sha256_hex(presented.token))
    if grant is None or grant.issuer_id != issuer_id or grant.expires_at <= context.clock.now():
        raise InvalidToken("the access token is not valid")
    presented.check_binding(grant.dpop_jkt)
    if not await context.ledger.record_event(
        grant.offer_id, request.notification_id, request.event
    ):
        raise InvalidNotificationId("this notification_id is unknown for the access token")
