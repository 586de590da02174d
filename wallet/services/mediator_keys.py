"""A mediator's key replaced, or the mediator removed (``idwallet mediator new-key`` and
``remove``, docs/mediators.md).

A new key stops the old one at once; the help requests made with it that no citizen
consented to yet expire (whoever held the old key holds their mediation tokens too). A
removed mediator keeps its row (its mediations and help requests name it, and the
citizens' activity logs) but no key: the key's hash is deleted, its live mediations end
(each citizen's log says so, ``ended_by: removed``) and its open help requests expire,
in one transaction. Both are audited (``mediation.key_replaced``,
``mediation.mediator_removed``, and ``mediation.ended`` per mediation ended)."""

from __future__ import annotations

import secrets

from core.errors import InvalidRequest
from wallet.services.context import WalletContext
from wallet.services.mediation_sessions import record_end
from wallet.services.mediators import KEY_BYTES, audit, secret_hash


async def replace_mediator_key(context: WalletContext, mediator_id: str) -> str:
    """The mediator's new key (shown once; only its hash is kept)."""
    key = secrets.token_urlsafe(KEY_BYTES)
    if not await context.mediations.replace_mediator_key(
        mediator_id, secret_hash(key), context.clock.now()
    ):
        raise InvalidRequest(f"no mediator {mediator_id}, or it was removed")
    mediator = await context.mediations.mediator_by_key(secret_hash(key))
    if mediator is not None:
        await audit(context, mediator, "key_replaced", subject_key=None)
    return key


async def remove_mediator(context: WalletContext, mediator_id: str) -> int:
    """How many live mediations the removal ended."""
    removed = await context.mediations.remove_mediator(mediator_id, context.clock.now())
    if removed is None:
        raise InvalidRequest(f"no mediator {mediator_id}, or it was removed already")
    mediator, ended = removed
    await audit(
        context, mediator, "mediator_removed", subject_key=None, mediations_ended=len(ended)
    )
    for mediation in ended:
        await record_end(context, mediation, "removed")
    return len(ended)
