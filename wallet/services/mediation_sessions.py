"""A mediator acting for a citizen through the citizen mobile API (docs/mediators.md).

A mediation token (``mdt.…``, given to the mediator's screen with the help request) is a
bearer token of the mobile API once the citizen consented. It is scoped to that one
account, expires with the mediation, and opens only the operations that name a mediation
action (``opt={"mediation": "receive" | "present" | "read"}``); everything else (deleting
the account or a credential, devices, keys, the mediations themselves) is refused with a
403 problem. Each use reads the mediation's row, so one the citizen ended is refused by
every worker at once. Every use is audited (``mediation.acted`` or ``mediation.refused``)
and marks the activity-log entries its request records (``ASSISTING``). A use whose
request records no entry of its own (looking at the credentials or the activity log,
scanning, opening an offer or a presentation request: the route's ``mediation_seen``)
records one, ``mediator_acted``; a look is recorded at most once per mediation, what was
looked at and minute (an entry whose id is derived from the three, stored once by
whichever worker comes first), so reading the log does not grow it with every read.
"""

from __future__ import annotations

import uuid
from typing import Literal

from core.errors import InvalidToken, Problem
from wallet.domain import Mediation, Mediator, NotFound
from wallet.services.activity import record, sealed_entry, stamp
from wallet.services.activity_messages import (
    AssistedBy,
    MediationEndedEntry,
    MediatorActedEntry,
    MediatorSaw,
)
from wallet.services.assistance import ASSISTING
from wallet.services.context import WalletContext
from wallet.services.help_requests import MEDIATION_TOKEN_PREFIX, mediation_view
from wallet.services.mediation_messages import (
    DEVICE_CUSTODY_IN_MEDIATION,
    MEDIATION_ACTIONS,
    NOT_IN_MEDIATION,
    MediationList,
)
from wallet.services.mediators import audit, secret_hash
from wallet.services.sealing import AccountBox
from wallet.services.sessions import Session


class NotInMediation(Problem):
    """What a mediation may never do (RFC 9457 problem, 403)."""

    def __init__(self, detail: str) -> None:
        super().__init__(403, "Forbidden", detail, error="not_allowed_in_mediation")


def is_mediation_token(authorization: str | None) -> bool:
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and token.strip().startswith(MEDIATION_TOKEN_PREFIX)


async def mediated_session(
    context: WalletContext,
    authorization: str,
    *,
    action: str | None,
    operation: str,
    seen: MediatorSaw | None = None,
) -> Session:
    """The session of a live mediation allowed ``action``; ``invalid_token`` when the
    mediation is unknown, ended or expired; 403 when the operation is not one a mediation
    may do. ``seen``: what the operation shows the mediator, recorded in the citizen's
    activity log (an operation that records an entry of its own names none)."""
    token = authorization.partition(" ")[2].strip()
    mediation = (
        await context.mediations.mediation_by_token(secret_hash(token))
        if len(token) <= 256
        else None
    )
    if mediation is None or not mediation.live(context.clock.now()):
        raise InvalidToken("the mediation has ended or expired, or never started")
    box = await context.box(mediation.account_id)
    if action not in (*MEDIATION_ACTIONS, "scan"):
        await refused_in_mediation(context, mediation, "other", operation[:64])
        raise NotInMediation(NOT_IN_MEDIATION)
    await audit(
        context,
        mediation.mediator,
        "acted",
        subject_key=box.subject_key,
        action=action,
        operation=operation[:64],
    )
    ASSISTING.set(
        AssistedBy(
            mediation_id=mediation.mediation_id,
            mediator=mediation.mediator.name,
            space=mediation.mediator.space.name,
        )
    )
    if seen is not None:
        await _record_seen(context, box, mediation, seen)
    return Session(mediation.account_id, "", mediation)


#: Looks at the citizen's data within one such window make one entry.
LOOK_WINDOW_SECONDS = 60
#: Keeps the ids of looks apart from any other name-based id.
_LOOKS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:idwallet:mediator-look")


async def _record_seen(
    context: WalletContext, box: AccountBox, mediation: Mediation, seen: MediatorSaw
) -> None:
    """The ``mediator_acted`` entry of a use (``ASSISTING`` set: it carries
    ``assisted_by``)."""
    entry = MediatorActedEntry(**stamp(context), what=seen)
    if seen not in ("credentials", "activity"):
        await record(context, box, entry)
        return
    window = int(context.clock.now()) // LOOK_WINDOW_SECONDS
    entry.entry_id = str(uuid.uuid5(_LOOKS, f"{mediation.mediation_id}/{seen}/{window}"))
    await context.store.activity.add_once(sealed_entry(context, box, entry))


async def keep_keys_on_the_server(context: WalletContext, session: Session, custody: str) -> None:
    """A credential received through a mediation is bound to keys the wallet service
    keeps for the citizen, never to keys the mediator's device would hold."""
    mediation = session.mediation
    if mediation is not None and custody != "server":
        await refused_in_mediation(context, mediation, "receive", "device_custody")
        raise NotInMediation(DEVICE_CUSTODY_IN_MEDIATION)


async def refused_in_mediation(
    context: WalletContext, mediation: Mediation, action: str, operation: str
) -> None:
    """The trail's ``mediation.refused`` (outcome ``forbidden``): what the mediator tried
    (``action``, ``operation``), for the citizen's keyed hash."""
    box = await context.box(mediation.account_id)
    await audit(
        context,
        mediation.mediator,
        "refused",
        subject_key=box.subject_key,
        outcome="forbidden",
        action=action,
        operation=operation,
    )


async def live_mediations(context: WalletContext, session: Session) -> MediationList:
    mediations = await context.mediations.live_mediations(session.account_id, context.clock.now())
    return MediationList(mediations=[mediation_view(m) for m in mediations])


EndedBy = Literal["citizen", "mediator", "removed"]


async def record_end(context: WalletContext, mediation: Mediation, ended_by: EndedBy) -> None:
    """The end in the citizen's activity log and in the audit trail (``ended_by``:
    ``citizen``, ``mediator``, or ``removed``: the deployment removed the mediator)."""
    try:
        box = await context.box(mediation.account_id)
    except LookupError:  # the account was deleted meanwhile, and its mediations with it
        return
    await record(
        context,
        box,
        MediationEndedEntry(
            **stamp(context),
            mediation_id=mediation.mediation_id,
            mediator=mediation.mediator.name,
            space=mediation.mediator.space.name,
            ended_by=ended_by,
        ),
    )
    await audit(
        context, mediation.mediator, "ended", subject_key=box.subject_key, ended_by=ended_by
    )


async def end_by_citizen(context: WalletContext, session: Session, mediation_id: str) -> None:
    """The citizen ends a mediation: refused from this moment, by every worker."""
    if len(mediation_id) > 36 or not await context.mediations.end(
        mediation_id, context.clock.now(), account_id=session.account_id
    ):
        raise NotFound("no such mediation, or it has ended already")
    mediation = await context.mediations.mediation(mediation_id)
    if mediation is not None:
        await record_end(context, mediation, "citizen")


async def end_by_mediator(context: WalletContext, mediator: Mediator, mediation_id: str) -> None:
    if len(mediation_id) > 36 or not await context.mediations.end(
        mediation_id, context.clock.now(), mediator_id=mediator.mediator_id
    ):
        raise NotFound("no such mediation, or it has ended already")
    mediation = await context.mediations.mediation(mediation_id)
    if mediation is not None:
        await record_end(context, mediation, "mediator")
