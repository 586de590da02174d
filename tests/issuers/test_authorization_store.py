"""The record of wallets' authorizations (the authorization code flow) on SQLite and
PostgreSQL: each move is one compare-and-set, so of racing requests for the same
request_uri or code exactly one wins across workers; nothing moves once it ran out; a
code and a request_uri are found only by the agency they belong to."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.flow_states import IllegalMove
from core.storage.engine import create_engine, session_factory
from issuers.domain import AUTHORIZATION_MOVES, Authorization, AuthorizationState
from issuers.storage.authorizations import SqlAuthorizationStore
from tests.conftest import fresh_engine

NOW = 1_800_000_000.0


def _pushed(issuer_id: str = "civil-registry") -> Authorization:
    return Authorization(
        authorization_id=str(uuid.uuid4()),
        issuer_id=issuer_id,
        request_uri_hash=uuid.uuid4().hex * 2,
        client_id="wallet.example",
        redirect_uri="https://wallet.example/cb",
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        configuration_ids=("national_id",),
        state=AuthorizationState.PUSHED,
        created_at=NOW,
        expires_at=NOW + 60,
        wallet_state="af0ifjsldkj",
    )


async def test_an_authorization_goes_from_pushed_to_redeemed(engine: AsyncEngine) -> None:
    store = SqlAuthorizationStore(session_factory(engine))
    pushed = _pushed()
    await store.add(pushed)
    found = await store.by_request_uri("civil-registry", pushed.request_uri_hash)
    assert found == pushed
    assert await store.move(
        pushed.authorization_id,
        expected=AuthorizationState.PUSHED,
        state=AuthorizationState.AUTHENTICATING,
        now=NOW + 1,
        expires_at=NOW + 600,
    )
    assert await store.move(
        pushed.authorization_id,
        expected=AuthorizationState.AUTHENTICATING,
        state=AuthorizationState.CODE_ISSUED,
        now=NOW + 30,
        expires_at=NOW + 90,
        subject_id="citizen-1",
        code_hash="c" * 64,
    )
    issued = await store.by_code("civil-registry", "c" * 64)
    assert issued is not None and issued.subject_id == "citizen-1"
    assert issued.state is AuthorizationState.CODE_ISSUED
    assert await store.move(
        pushed.authorization_id,
        expected=AuthorizationState.CODE_ISSUED,
        state=AuthorizationState.REDEEMED,
        now=NOW + 40,
    )
    assert not await store.move(
        pushed.authorization_id,
        expected=AuthorizationState.CODE_ISSUED,
        state=AuthorizationState.REDEEMED,
        now=NOW + 41,
    )


async def test_another_agency_finds_neither_the_request_nor_the_code(engine: AsyncEngine) -> None:
    store = SqlAuthorizationStore(session_factory(engine))
    pushed = _pushed()
    await store.add(pushed)
    assert await store.by_request_uri("transport-agency", pushed.request_uri_hash) is None
    await store.move(
        pushed.authorization_id,
        expected=AuthorizationState.PUSHED,
        state=AuthorizationState.AUTHENTICATING,
        now=NOW,
        code_hash="d" * 64,
    )
    assert await store.by_code("transport-agency", "d" * 64) is None


async def test_nothing_moves_once_it_ran_out(engine: AsyncEngine) -> None:
    store = SqlAuthorizationStore(session_factory(engine))
    pushed = _pushed()
    await store.add(pushed)
    assert pushed.effective_state(NOW + 60) is AuthorizationState.EXPIRED
    assert not await store.move(
        pushed.authorization_id,
        expected=AuthorizationState.PUSHED,
        state=AuthorizationState.AUTHENTICATING,
        now=NOW + 60,
    )
    assert await store.purge(NOW + 61) == 1


async def test_a_pushed_request_is_taken_once_by_its_client_before_it_expires(
    engine: AsyncEngine,
) -> None:
    store = SqlAuthorizationStore(session_factory(engine))
    pushed = _pushed()
    await store.add(pushed)

    async def take(
        issuer_id: str = "civil-registry", client_id: str = pushed.client_id, now: float = NOW
    ) -> Authorization | None:
        return await store.take_pushed(
            issuer_id,
            pushed.request_uri_hash,
            client_id=client_id,
            now=now,
            state=AuthorizationState.AUTHENTICATING,
            expires_at=NOW + 600,
        )

    assert await take(client_id="https://other-wallet.example") is None
    assert await take(issuer_id="transport-agency") is None
    assert await take(now=NOW + 60) is None  # ran out
    found = await store.by_request_uri("civil-registry", pushed.request_uri_hash)
    assert found == pushed  # none of those moved it
    taken = await take()
    assert taken == dataclasses.replace(
        pushed, state=AuthorizationState.AUTHENTICATING, expires_at=NOW + 600
    )
    assert await take() is None
    assert await store.by_request_uri("civil-registry", pushed.request_uri_hash) == taken


def test_the_moves_are_the_designed_ones() -> None:
    assert AUTHORIZATION_MOVES.is_final(AuthorizationState.REDEEMED)
    assert AUTHORIZATION_MOVES.is_final(AuthorizationState.REFUSED)
    # a code is issued only after the citizen was authenticated
    with pytest.raises(IllegalMove):
        AUTHORIZATION_MOVES.check(AuthorizationState.PUSHED, AuthorizationState.CODE_ISSUED)


async def test_fifty_racing_redemptions_of_one_code_have_one_winner(database_url: str) -> None:
    """Two workers (an engine each) get 50 concurrent exchanges of the same code."""
    async with fresh_engine(database_url) as engine:
        other = create_engine(database_url)
        try:
            stores = [SqlAuthorizationStore(session_factory(e)) for e in (engine, other)]
            pushed = _pushed()
            await stores[0].add(pushed)
            for expected, state in (
                (AuthorizationState.PUSHED, AuthorizationState.AUTHENTICATING),
                (AuthorizationState.AUTHENTICATING, AuthorizationState.CODE_ISSUED),
            ):
                assert await stores[0].move(
                    pushed.authorization_id, expected=expected, state=state, now=NOW
                )
            results = await asyncio.gather(
                *(
                    stores[i % 2].move(
                        pushed.authorization_id,
                        expected=AuthorizationState.CODE_ISSUED,
                        state=AuthorizationState.REDEEMED,
                        now=NOW + 1,
                    )
                    for i in range(50)
                )
            )
            assert results.count(True) == 1
        finally:
            await other.dispose()


async def test_fifty_racing_takes_of_one_request_uri_have_one_winner(database_url: str) -> None:
    """Two workers (an engine each) get 50 concurrent uses of the same request_uri."""
    async with fresh_engine(database_url) as engine:
        other = create_engine(database_url)
        try:
            stores = [SqlAuthorizationStore(session_factory(e)) for e in (engine, other)]
            pushed = _pushed()
            await stores[0].add(pushed)
            results = await asyncio.gather(
                *(
                    stores[i % 2].take_pushed(
                        "civil-registry",
                        pushed.request_uri_hash,
                        client_id=pushed.client_id,
                        now=NOW + 1,
                        state=AuthorizationState.AUTHENTICATING,
                        expires_at=NOW + 600,
                    )
                    for i in range(50)
                )
            )
            assert sum(result is not None for result in results) == 1
        finally:
            await other.dispose()
