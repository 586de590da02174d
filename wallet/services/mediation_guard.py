"""What a request made through a mediation (docs/mediators.md) checks again at its
irreversible step, and which presentation requests a mediation never answers.

- The mediation's row is read again right before the wallet posts a presentation to the
  verifier, spends an offer's code at the issuer, or stores a received credential: a
  mediation the citizen (or the mediator) ended, or that expired, while the request was
  under way stops it there, with the same ``invalid_token`` (401) as at the request's start.
- A mediator never answers a presentation request that identifies the citizen for an
  issuance (an issuer's login by presentation, OpenID4VP inside OpenID4VCI): the
  verifier's registration says so (a purpose with ``issuance``), and a request whose
  registration the wallet cannot verify cannot be told apart from one, so it is refused
  too. Otherwise a mediator could start an issuance in a wallet of their own, have the
  citizen's wallet prove who the citizen is, and receive the citizen's credential.
"""

from __future__ import annotations

from core.errors import InvalidToken
from wallet.services.assistance import ASSISTING
from wallet.services.context import WalletContext
from wallet.services.mediation_messages import (
    ISSUANCE_LOGIN_IN_MEDIATION,
    UNREGISTERED_VERIFIER_IN_MEDIATION,
)
from wallet.services.mediation_sessions import NotInMediation, refused_in_mediation
from wallet.services.registration import serves_issuance
from wallet.services.request_object import CheckedRequest


def assisted() -> bool:
    """Whether the request under way was made with a mediation token."""
    return ASSISTING.get() is not None


async def mediation_still_live(context: WalletContext) -> None:
    """In a mediated request: the mediation's row read again now; ``invalid_token`` when
    it has ended or expired since the request began. Nothing outside a mediation."""
    helping = ASSISTING.get()
    if helping is None:
        return
    mediation = await context.mediations.mediation(helping.mediation_id)
    if mediation is None or not mediation.live(context.clock.now()):
        raise InvalidToken("the mediation has ended or expired")


async def refuse_issuance_login(context: WalletContext, request: CheckedRequest) -> None:
    """In a mediated request: 403 ``not_allowed_in_mediation`` for a presentation request
    whose verified registration serves an issuance, or that has no verified registration."""
    helping = ASSISTING.get()
    if helping is None:
        return
    registration = request.registration
    if registration is not None and not serves_issuance(registration):
        return
    mediation = await context.mediations.mediation(helping.mediation_id)
    if mediation is not None:
        await refused_in_mediation(
            context,
            mediation,
            "present",
            "issuance_login" if registration is not None else "unregistered_verifier",
        )
    raise NotInMediation(
        ISSUANCE_LOGIN_IN_MEDIATION
        if registration is not None
        else UNREGISTERED_VERIFIER_IN_MEDIATION
    )
