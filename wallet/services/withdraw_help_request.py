"""The mediator cancels a help request (``DELETE /mediator/api/help-requests/{id}``,
docs/mediators.md): its code and QR code stop working at once, on every worker, rather
than staying claimable until they expire. A request the citizen consented to just before
the cancel (the two race; one conditional update decides) has started a mediation: the
cancel ends it, as *Stop helping* would, so a cancel always leaves the mediator unable
to act for anyone."""

from __future__ import annotations

from wallet.domain import Mediator, NotFound
from wallet.services.context import WalletContext
from wallet.services.mediation_sessions import end_by_mediator
from wallet.services.mediators import audit


async def withdraw_help_request(
    context: WalletContext, mediator: Mediator, request_id: str
) -> None:
    """Withdrawn already, or expired: nothing more to do. ``NotFound`` for a request that
    is unknown or another mediator's."""
    if len(request_id) > 36:
        raise NotFound("no such help request")
    now = context.clock.now()
    if await context.mediations.withdraw_help_request(mediator.mediator_id, request_id, now):
        await audit(context, mediator, "withdrawn", subject_key=None)
        return
    found = await context.mediations.help_request(mediator.mediator_id, request_id)
    if found is None:
        raise NotFound("no such help request")
    if found.mediation_id is None:
        return
    mediation = await context.mediations.mediation(found.mediation_id)
    if mediation is not None and mediation.live(now):
        try:
            await end_by_mediator(context, mediator, mediation.mediation_id)
        except NotFound:  # the citizen ended it meanwhile
            return
