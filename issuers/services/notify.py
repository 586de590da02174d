"""The Notification Endpoint (OpenID4VCI 1.0 §11): the wallet tells the agency whether
it kept the credentials (``credential_accepted``, ``credential_failure``,
``credential_deleted``).

The access token is good here while it lives; one whose credentials were collected at the
Deferred Credential Endpoint (§9) is good as long as their response is kept there, so
that the wallet can tell what became of them (§11: one ``notification_id`` per Deferred
Credential Response too)."""

from __future__ import annotations

from core.errors import InvalidNotificationId, InvalidToken
from core.oid4vci import NotificationRequest
from issuers.domain import ApplicationState
from issuers.services.codes import sha256_hex
from issuers.services.context import IssuerContext
from issuers.services.sender_constraint import PresentedToken, ProtectedRequest, presented_token


async def record_notification(
    context: IssuerContext, issuer_id: str, access: ProtectedRequest, request: NotificationRequest
) -> None:
    """With the access token of the credential request (a bound token with the DPoP proof
    of its key, ``issuers.services.sender_constraint``)."""
    presented = await presented_token(context, issuer_id, access, endpoint_name="notification")
    offer_id = await _offer_of_token(context, issuer_id, presented)
    if not await context.ledger.record_event(offer_id, request.notification_id, request.event):
        raise InvalidNotificationId("this notification_id is unknown for the access token")


async def _offer_of_token(context: IssuerContext, issuer_id: str, presented: PresentedToken) -> str:
    """The offer whose credentials the access token, presented as it is bound, may notify
    about."""
    now = context.clock.now()
    token_hash = sha256_hex(presented.token)
    grant = await context.grants.get(token_hash)
    if grant is not None and grant.issuer_id == issuer_id and grant.expires_at > now:
        presented.check_binding(grant.dpop_jkt)
        return grant.offer_id
    application = await context.applications.by_token(issuer_id, token_hash)
    if (
        application is not None
        and application.state is ApplicationState.DELIVERED
        and now < application.expires_at
    ):
        presented.check_binding(application.dpop_jkt)
        return application.offer_id
    raise InvalidToken("the access token is not valid")
