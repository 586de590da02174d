"""The Deferred Credential Endpoint (OpenID4VCI 1.0 §9): the wallet comes back with the
``transaction_id`` of its credential request and the access token that made it.

The access token names the application (one credential request per token, §8.3), and the
``transaction_id`` must be that application's:

- no application of this agency for the token, or one withdrawn because the token was
  revoked: ``invalid_token`` (RFC 6750 §3.1), as at the Credential Endpoint;
- another ``transaction_id``: ``invalid_transaction_id`` (§9.3);
- no decision yet: 202 with the same ``transaction_id`` and the agency's ``interval`` (§9.2);
- approved: the credentials, signed now, bound to the keys the wallet proved at the
  Credential Endpoint, recorded with their status entries in the transaction that moves
  the application to ``delivered`` (200, §9.2); the same request is answered with the same
  credentials for a few minutes after (a response lost on the way), and afterwards the
  ``transaction_id`` is ``invalid_transaction_id``, used (§9.1); while another request of
  the wallet is collecting them (or its collection failed and was undone), 202 again;
- refused by a clerk, or not decided or collected before its deadline:
  ``credential_request_denied`` (§9.3: the issuer "can no longer issue the credential").
  The clerk's reason stays with the agency.
"""

from __future__ import annotations

from core.errors import (
    CredentialRequestDenied,
    InvalidToken,
    InvalidTransactionId,
)
from core.oid4vci import CredentialResponse, DeferredCredentialRequest, IssuedCredential
from issuers.domain import Application, ApplicationState
from issuers.services.codes import same, sha256_hex
from issuers.services.context import IssuerContext
from issuers.services.delivered_responses import UnreadableResponse, open_response, seal_response
from issuers.services.issue_credential import audit_issued, sign_and_record
from issuers.services.sender_constraint import ProtectedRequest, presented_token

USED = "this transaction_id was used to obtain its credentials already"


async def fetch_deferred_credential(
    context: IssuerContext,
    issuer_id: str,
    access: ProtectedRequest,
    request: DeferredCredentialRequest,
) -> CredentialResponse:
    """The credentials (``credentials``) or, while a clerk has not decided, the same
    ``transaction_id`` with the ``interval`` to wait (answered 202). The access token must
    be presented as it was bound at the token endpoint (DPoP, RFC 9449 §7)."""
    agency = context.agency(issuer_id)
    presented = await presented_token(
        context, issuer_id, access, endpoint_name="deferred_credential"
    )
    access_token = presented.token
    now = context.clock.now()
    token_hash = sha256_hex(access_token)
    application = await context.applications.by_token(issuer_id, token_hash)
    if application is None or application.state is ApplicationState.WITHDRAWN:
        raise InvalidToken("the access token is not valid")
    presented.check_binding(application.dpop_jkt)
    if not same(application.transaction_hash, sha256_hex(request.transaction_id)):
        raise InvalidTransactionId("this transaction_id is not one of this access token")
    state = application.effective_state(now)
    if state is ApplicationState.APPROVED:
        delivered = await _deliver(context, application, access_token, now)
        if delivered is not None:
            return delivered
        # another request of the wallet moved it meanwhile: answer as that one left it
        application = await context.applications.by_token(issuer_id, token_hash)
        if application is None or application.state is ApplicationState.WITHDRAWN:
            raise InvalidToken("the access token is not valid")
        state = application.effective_state(now)
    if state in (ApplicationState.PENDING, ApplicationState.APPROVED):
        # not decided yet, or approved and being issued to a request that has not finished
        return CredentialResponse(
            transaction_id=request.transaction_id, interval=agency.deferred_issuance.interval
        )
    if state is ApplicationState.DELIVERED:
        return _repeated(application, access_token, now)
    raise CredentialRequestDenied("the agency does not issue this credential")


async def _deliver(
    context: IssuerContext, application: Application, access_token: str, now: float
) -> CredentialResponse | None:
    """Sign, record and keep the credentials of an approved application; None when another
    request moved it first."""
    issuer_id = application.issuer_id
    agency = context.agency(issuer_id)
    signer = await context.keys.signer(issuer_id)
    async with context.applications.open_delivery(
        issuer_id, application.application_id, now
    ) as work:
        if work is None:
            return None
        approved = work.application
        _, credentials = await sign_and_record(
            context,
            agency,
            approved.configuration_id,
            work=work,
            signer=signer,
            claims=approved.claims,
            holder_keys=approved.holder_keys,
            nonces=[],
            now=now,
            notification_id=approved.notification_id,
        )
        response = CredentialResponse(
            credentials=[IssuedCredential(credential=c) for c in credentials],
            notification_id=approved.notification_id,
        )
        await work.keep_response(
            seal_response(access_token, approved.token_hash, response),
            now + context.policy.deferred_response_lifetime,
        )
    await audit_issued(context, issuer_id, approved.configuration_id, len(credentials))
    return response


def _repeated(application: Application, access_token: str, now: float) -> CredentialResponse:
    """The kept response of a delivered application, while the same request may repeat."""
    if application.kept_response is None or now >= application.expires_at:
        raise InvalidTransactionId(USED)
    try:
        return open_response(access_token, application.token_hash, application.kept_response)
    except UnreadableResponse:
        raise InvalidTransactionId(USED) from None
