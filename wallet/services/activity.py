"""The citizen's activity log: every receipt, presentation (to whom, which claims, for
what, when, with what outcome), declined request, deletion and device event.

Entries are sealed like everything else the citizen owns; only the kind and the time are
in the clear, so the log can be listed in order without opening it. Each entry is one
message of ``activity_messages``; its id and time come from ``stamp``.
"""

from __future__ import annotations

import uuid
from typing import TypedDict

import msgspec

from wallet.domain import ActivityEntry, ActivityKind
from wallet.services.activity_messages import ActivityLogEntry
from wallet.services.assistance import ASSISTING
from wallet.services.context import WalletContext
from wallet.services.sealing import AccountBox


class Stamp(TypedDict):
    entry_id: str
    at: int


def stamp(context: WalletContext) -> Stamp:
    """A new entry's id and time (``Entry(**stamp(context), ...)``)."""
    return {"entry_id": str(uuid.uuid4()), "at": int(context.clock.now())}


def sealed_entry(context: WalletContext, box: AccountBox, entry: ActivityLogEntry) -> ActivityEntry:
    """``entry`` as stored (where it is written with something else in one transaction);
    done through a mediation (``ASSISTING``), it says so."""
    assisted = ASSISTING.get()
    if assisted is not None and isinstance(entry.assisted_by, msgspec.UnsetType):
        entry = msgspec.structs.replace(entry, assisted_by=assisted)
    kind = ActivityKind(str(type(entry).__struct_config__.tag))
    return ActivityEntry(
        entry.entry_id,
        box.account_id,
        context.clock.now(),
        kind,
        box.seal("activity", entry.entry_id, msgspec.to_builtins(entry)),
    )


async def record(context: WalletContext, box: AccountBox, entry: ActivityLogEntry) -> None:
    """Store ``entry``; done through a mediation (``ASSISTING``), it says so."""
    await context.store.activity.add(sealed_entry(context, box, entry))


async def activity_log(context: WalletContext, account_id: str) -> list[ActivityLogEntry]:
    """Newest first. The id, time and kind kept in the clear are the entry's own."""
    box = await context.box(account_id)
    entries = await context.store.activity.list(account_id, context.policy.activity_limit)
    return [
        msgspec.convert(
            {
                **box.open("activity", e.entry_id, e.sealed),
                "entry_id": e.entry_id,
                "at": int(e.at),
                "kind": e.kind.value,
            },
            ActivityLogEntry,
        )
        for e in entries
    ]
