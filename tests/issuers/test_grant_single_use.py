"""A credential request's DPoP proof ``jti`` is used up by the statement that uses its
access grant up (on SQLite and PostgreSQL): a proof used before leaves the grant untouched
and names itself; a request that fails gives back both the grant and the ``jti``, so the
state is as if it had not come; of racing requests with one proof exactly one gets the
grant."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import InvalidDpopProofAtResource
from core.replay import SingleUse, UsedBefore
from core.sealing import Sealer
from core.storage.driver import is_postgresql
from core.storage.engine import create_engine, session_factory
from core.storage.single_use import SqlSingleUse
from issuers.domain import AccessGrant, Offer, OfferState
from issuers.storage.offer_claims import SealedClaims
from issuers.storage.postgres_issuance import PostgresCredentialLedger, PostgresOfferStore
from issuers.storage.sql import SqlCredentialLedger, SqlGrantStore, SqlOfferStore
from tests.conftest import fresh_engine

NOW = 1_800_000_000.0
JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
CLAIMS = SealedClaims(Sealer(os.urandom(32)))


def _ledger(engine: AsyncEngine) -> SqlCredentialLedger:
    kind = PostgresCredentialLedger if is_postgresql(engine) else SqlCredentialLedger
    return kind(session_factory(engine), CLAIMS)


async def _granted(engine: AsyncEngine, *other_configurations: str) -> str:
    """The token hash of a live grant bound to ``JKT``, of a redeemed offer (of the
    national ID, and of ``other_configurations`` with it)."""
    offers = (PostgresOfferStore if is_postgresql(engine) else SqlOfferStore)(
        session_factory(engine), CLAIMS
    )
    offer = Offer(
        offer_id=str(uuid.uuid4()),
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
        other_configurations=other_configurations,
    )
    await offers.add(offer)
    token_hash = uuid.uuid4().hex * 2
    grant = AccessGrant(token_hash, "", "civil-registry", NOW + 300, used=False, dpop_jkt=JKT)
    assert await offers.redeem_without_tx_code(offer.code_hash, NOW, grant) is not None
    return token_hash


def _jti(value: str = "proof-1") -> SingleUse:
    return SingleUse("dpop", f"{JKT} {value}", NOW + 65, InvalidDpopProofAtResource("used"))


async def test_the_grant_and_the_proof_are_used_up_together(engine: AsyncEngine) -> None:
    token_hash = await _granted(engine)
    async with _ledger(engine).open_grant(token_hash, NOW + 1, JKT, spend=(_jti(),)) as work:
        assert work is not None and work.grant.token_hash == token_hash
    grant = await SqlGrantStore(session_factory(engine)).get(token_hash)
    assert grant is not None and grant.used
    assert not await SqlSingleUse(engine).first_use("dpop", f"{JKT} proof-1", NOW + 65)


async def test_a_proof_used_before_leaves_the_grant_untouched(engine: AsyncEngine) -> None:
    token_hash = await _granted(engine)
    assert await SqlSingleUse(engine).first_use("dpop", f"{JKT} proof-1", NOW + 65)
    replayed = _jti()
    with pytest.raises(UsedBefore) as used:
        async with _ledger(engine).open_grant(token_hash, NOW + 1, JKT, spend=(replayed,)):
            pytest.fail("the grant must not be opened")
    assert used.value.single_use is replayed
    grant = await SqlGrantStore(session_factory(engine)).get(token_hash)
    assert grant is not None and not grant.used
    async with _ledger(engine).open_grant(
        token_hash, NOW + 1, JKT, spend=(_jti("proof-2"),)
    ) as work:
        assert work is not None


async def test_a_failed_request_gives_back_the_grant_and_the_proof(engine: AsyncEngine) -> None:
    token_hash = await _granted(engine)
    with pytest.raises(RuntimeError):
        async with _ledger(engine).open_grant(token_hash, NOW + 1, JKT, spend=(_jti(),)) as work:
            assert work is not None
            raise RuntimeError("an invalid proof, say")
    async with _ledger(engine).open_grant(token_hash, NOW + 1, JKT, spend=(_jti(),)) as work:
        assert work is not None


async def test_a_grant_used_already_still_uses_the_proof_up(engine: AsyncEngine) -> None:
    """The retry of a lost response: no grant to use, and the proof is spent."""
    token_hash = await _granted(engine)
    async with _ledger(engine).open_grant(token_hash, NOW + 1, JKT, spend=(_jti(),)) as work:
        assert work is not None
    async with _ledger(engine).open_grant(
        token_hash, NOW + 2, JKT, spend=(_jti("proof-2"),)
    ) as work:
        assert work is None
    assert not await SqlSingleUse(engine).first_use("dpop", f"{JKT} proof-2", NOW + 65)


async def test_racing_requests_with_one_proof_open_the_grant_once(database_url: str) -> None:
    async with fresh_engine(database_url) as engine:
        other = create_engine(database_url)
        try:
            token_hash = await _granted(engine)
            ledgers = [_ledger(engine), _ledger(other)]

            async def request(i: int) -> bool:
                async with ledgers[i % 2].open_grant(
                    token_hash, NOW + 1, JKT, spend=(_jti(),)
                ) as work:
                    return work is not None

            results = await asyncio.gather(*(request(i) for i in range(20)), return_exceptions=True)
            assert sum(result is True for result in results) == 1
            assert sum(isinstance(result, UsedBefore) for result in results) == 19
        finally:
            await other.dispose()
