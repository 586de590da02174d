"""The ledger's flagged indices, what a published status list is built from: on SQLite
and PostgreSQL, every revoked and suspended index of the one list asked for, grouped by
status, and nothing of VALID credentials or of other lists."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from core.sealing import Sealer
from core.storage.engine import session_factory
from issuers.storage.offer_claims import SealedClaims
from issuers.storage.sql import SqlCredentialLedger
from issuers.storage.sqlalchemy_issuance import CoreIssuanceStatements
from tests.support.ledger_rows import credential_row

STATUSES = {0: [3, 70, 900], 1: [0, 5, 4095, 1 << 20], 2: [7, 77777]}


def _credential(list_id: str, index: int, status: int) -> dict[str, Any]:
    return credential_row("civil-registry", list_id, index, status)


async def test_flagged_indices_of_one_list_grouped_by_status(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        statements = CoreIssuanceStatements(connection)
        for list_id in ("list-a", "list-b"):
            await statements.open_list(
                {
                    "list_id": list_id,
                    "issuer_id": "civil-registry",
                    "bits": 2,
                    "size": 1 << 21,
                    "allocated": 0,
                }
            )
        for status, indices in STATUSES.items():
            for index in indices:
                assert await statements.add_credential(_credential("list-a", index, status))
        assert await statements.add_credential(_credential("list-b", 6, 1))
    ledger = SqlCredentialLedger(session_factory(engine), SealedClaims(Sealer(os.urandom(32))))

    flagged = await ledger.flagged_indices("list-a")

    assert {status: sorted(indices) for status, indices in flagged.items()} == {
        1: STATUSES[1],
        2: STATUSES[2],
    }
    assert await ledger.flagged_indices("list-b") == {1: [6]}
    assert await ledger.flagged_indices("no-such-list") == {}
