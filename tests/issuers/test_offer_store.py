"""An offer made from the agency's register is written with its audit entry in one
transaction (one statement on PostgreSQL), on SQLite and PostgreSQL: both are kept, or
neither; one made for a citizen's authorization also with the authorization's move to
``code_issued``, and nothing is kept when the authorization cannot move."""

from __future__ import annotations

import dataclasses
import os
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.sealing import Sealer
from core.storage.driver import is_postgresql
from core.storage.engine import session_factory
from issuers.domain import (
    AuditEvent,
    Authorization,
    AuthorizationState,
    CodeIssue,
    Offer,
    OfferState,
)
from issuers.storage.authorizations import SqlAuthorizationStore
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


async def _authenticating(engine: AsyncEngine) -> Authorization:
    authorization = Authorization(
        authorization_id=str(uuid.uuid4()),
        issuer_id="civil-registry",
        request_uri_hash=uuid.uuid4().hex * 2,
        client_id="https://wallet.example",
        redirect_uri="https://wallet.example/cb",
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        configuration_ids=("national_id",),
        state=AuthorizationState.AUTHENTICATING,
        created_at=NOW,
        expires_at=NOW + 600,
    )
    await SqlAuthorizationStore(session_factory(engine)).add(authorization)
    return authorization


def _code(authorization: Authorization, now: float = NOW + 5) -> CodeIssue:
    return CodeIssue(
        authorization.authorization_id,
        expected=AuthorizationState.AUTHENTICATING,
        now=now,
        expires_at=now + 60,
        subject_id="citizen-1",
        code_hash="c" * 64,
    )


async def test_an_offer_for_an_authorization_is_kept_with_its_code(engine: AsyncEngine) -> None:
    offers, audit = _stores(engine)
    authorization = await _authenticating(engine)
    offer = _offer()
    assert await offers.add_with_code(offer, _made(offer), _code(authorization))
    assert await offers.get("civil-registry", offer.offer_id) == offer
    assert await audit.recent("civil-registry", 10) == [_made(offer)]
    issued = await SqlAuthorizationStore(session_factory(engine)).by_code(
        "civil-registry", "c" * 64
    )
    assert issued == dataclasses.replace(
        authorization,
        state=AuthorizationState.CODE_ISSUED,
        expires_at=NOW + 65,
        subject_id="citizen-1",
        code_hash="c" * 64,
        offer_id=offer.offer_id,
    )


async def test_nothing_is_kept_for_an_authorization_that_cannot_move(engine: AsyncEngine) -> None:
    offers, audit = _stores(engine)
    authorization = await _authenticating(engine)
    offer = _offer()
    assert not await offers.add_with_code(offer, _made(offer), _code(authorization, NOW + 600))
    moved = _offer()
    assert await offers.add_with_code(moved, _made(moved), _code(authorization))
    again = _offer()
    assert not await offers.add_with_code(again, _made(again), _code(authorization))
    for unkept in (offer, again):
        assert await offers.get("civil-registry", unkept.offer_id) is None
    assert await audit.recent("civil-registry", 10) == [_made(moved)]
