"""The citizen declines a presentation request: the verifier is told ``access_denied``
(OpenID4VP 1.0 §8.5; inside the JWE of §8.3 where it asked for ``direct_post.jwt``) where
it can be reached, and the activity log records what was asked and whether the verifier
heard the answer."""

from __future__ import annotations

from msgspec import UnsetType

from core.dcql.model import ClaimsQuery, CredentialQuery
from core.dcql.parse import parse_dcql_query
from wallet.domain import FlowState
from wallet.services.activity import record, stamp
from wallet.services.activity_messages import PresentationDeclinedEntry, RequestedClaims
from wallet.services.answer_verifier import send_refusal
from wallet.services.claim_flow import end_claim
from wallet.services.consent import path_name
from wallet.services.context import WalletContext
from wallet.services.interaction_messages import PresentationOutcome
from wallet.services.presentation_flow import claim_presentation, verifier_name


def _claims_of(query: CredentialQuery) -> list[ClaimsQuery]:
    return [] if isinstance(query.claims, UnsetType) else list(query.claims)


async def decline(
    context: WalletContext, account_id: str, presentation_id: str
) -> PresentationOutcome:
    claimed, content = await claim_presentation(
        context, account_id, presentation_id, FlowState.CONSENT_NEEDED
    )
    request = content.request
    delivered = await send_refusal(context, request, "access_denied", "the holder declined")
    await end_claim(context, claimed, FlowState.DECLINED)
    await record(
        context,
        claimed.box,
        PresentationDeclinedEntry(
            **stamp(context),
            verifier=verifier_name(request),
            client_id=request.client_id,
            verifier_authenticated=request.authenticated,
            requested=[
                RequestedClaims(query_id=q.id, claims=[path_name(c.path) for c in _claims_of(q)])
                for q in parse_dcql_query(request.dcql_query).credentials
            ],
            verifier_told=delivered,
        ),
    )
    return PresentationOutcome(presentation_id=presentation_id, status=FlowState.DECLINED.value)
