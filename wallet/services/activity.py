"""The citizen's activity log: every receipt, presentation (to whom, which claims, for
what, when, with what outcome), declined request, deletion and device event.

Entries are sealed like everything else the citizen owns; only the kind and the time are
in the clear, so the log can be listed in order without opening it.
"""

from __future__ import annotations

import uuid
from typing import Any

from wallet.domain import ActivityEntry, ActivityKind
from wallet.services.context import WalletContext
from wallet.services.sealing import AccountBox


async def record(
    context: WalletContext, box: AccountBox, kind: ActivityKind, details: dict[str, Any]
) -> None:
    entry_id = str(uuid.uuid4())
    await context.store.activity.add(
        ActivityEntry(
            entry_id,
            box.account_id,
            context.clock.now(),
            kind,
            box.seal("activity", entry_id, details),
        )
    )


async def activity_log(context: WalletContext, account_id: str) -> list[dict[str, Any]]:
    """Newest first."""
    box = await context.box(account_id)
    entries = await context.store.activity.list(account_id, context.policy.activity_limit)
    return [
        {
            "entry_id": e.entry_id,
            "at": int(e.at),
            "kind": e.kind.value,
            **box.open("activity", e.entry_id, e.sealed),
        }
        for e in entries
    ]
