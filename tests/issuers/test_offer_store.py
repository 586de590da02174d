"""An offer made from the agency's register is written with its audit entry in one
transaction (one statement on PostgreSQL), on SQLite and PostgreSQL: both are kept, or
neither."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.sealing import Sealer
from core.storage.driver import is_postgresql
from core.storage.engine import session_factory
from issuers.domain import AuditEvent, Offer, OfferState
from issuers.storage.offer_claims import SealedClaims
from issuers.storage.postgres_issuance import PostgresOfferStore
from issuers.storage.sql import SqlAuditLog, SqlOfferStore

NOW = 1_800_000_000.0
CLAIMS = SealedClaims(Sealer(os.urandom(32)))


def _stores(engine: AsyncEngine) -> tuple[SqlOfferStore, SqlAuditLog]:
    sessions = session_factory(engine)
    kind = PostgresOfferStore if is_postgresql(engine) else SqlOfferStore
    return kind(sessions, CLAIMS), SqlAuditLog(sessions)


def _offer() -> Offer:
    offer_id = str(uuid.uuid4())
    return Offer(
        offer_id=offer_id,
        issuer_id="civil-registry",
        configuration_id="national_id",
        subject_id="citizen-1",
        claims={"given_name": "Erika"},
        code_hash=uuid.uuid4().hex * 2,
        tx_code_hash=None,
        tx_code_attempts=0,
        tx_code_max_attempts=5,
        state=OfferState.OFFERED,
        created_at=NOW,
        expires_at=NOW + 600,
    )


def _made(offer: Offer, actor: str = "wallet https://wallet.example") -> AuditEvent:
    return AuditEvent("civil-registry", NOW, actor, "offer.create", offer.offer_id, "authorized")


async def test_an_offer_and_its_audit_entry_are_written_together(engine: AsyncEngine) -> None:
    offers, audit = _stores(engine)
    offer = _offer()
    await offers.add(offer, audit=_made(offer, "a" * 150))
    assert await offers.get("civil-registry", offer.offer_id) == offer
    [entry] = await audit.recent("civil-registry", 10)
    # cut to its column, as every audit entry is
    assert entry == _made(offer, "a" * 100)
    plain = _offer()
    await offers.add(plain)
    assert await offers.get("civil-registry", plain.offer_id) == plain
    assert len(await audit.recent("civil-registry", 10)) == 1


async def test_an_offer_that_is_not_kept_leaves_no_audit_entry(engine: AsyncEngine) -> None:
    offers, audit = _stores(engine)
    offer = _offer()
    await offers.add(offer, audit=_made(offer))
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        await offers.add(offer, audit=_made(offer, "a second attempt"))
    assert [entry.actor for entry in await audit.recent("civil-registry", 10)] == [
        _made(offer).actor
    ]
