"""A code's exchange as the store makes it (one statement on PostgreSQL, one transaction on
SQLite): the request's single-use values used up, the authorization moved only when
everything the code must match matches, its offer redeemed with the access grant, and the
first refresh token kept; a value used before stops the exchange and names itself; of
racing exchanges exactly one wins. A pushed request is stored with its single-use values
the same way."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import InvalidClientAttestation, InvalidDpopProof
from core.replay import SingleUse, UsedBefore
from core.sealing import Sealer
from core.storage.driver import is_postgresql
from core.storage.engine import create_engine, session_factory
from core.storage.single_use import SqlSingleUse
from issuers.domain import (
    AccessGrant,
    Authorization,
    AuthorizationState,
    FirstRefreshToken,
    Offer,
    OfferState,
    RedeemedCode,
    RefreshState,
)
from issuers.storage.authorizations import SqlAuthorizationStore
from issuers.storage.offer_claims import SealedClaims
from issuers.storage.postgres_issuance import PostgresOfferStore
from issuers.storage.refresh_tokens import SqlRefreshTokenStore
from issuers.storage.sql import SqlGrantStore, SqlOfferStore
from issuers.storage.tables import GRANTS, REFRESH_TOKENS
from tests.conftest import fresh_engine

NOW = 1_800_000_000.0
ISSUER = "civil-registry"
CLIENT = "https://wallet.example"
REDIRECT = "https://wallet.example/cb"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
CLAIMS = SealedClaims(Sealer(os.urandom(32)))


def _offer_store(engine: AsyncEngine) -> SqlOfferStore:
    kind = PostgresOfferStore if is_postgresql(engine) else SqlOfferStore
    return kind(session_factory(engine), CLAIMS)


async def _code_issued(engine: AsyncEngine, *, dpop_jkt: str | None = JKT) -> Authorization:
    """An authorization with a code ("c" * 64 hashed) and a live offer of the register."""
    offer_id = str(uuid.uuid4())
    await _offer_store(engine).add(
        Offer(
            offer_id=offer_id,
            issuer_id=ISSUER,
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
    )
    authorization = Authorization(
        authorization_id=str(uuid.uuid4()),
        issuer_id=ISSUER,
        request_uri_hash=uuid.uuid4().hex * 2,
        client_id=CLIENT,
        redirect_uri=REDIRECT,
        code_challenge=CHALLENGE,
        configuration_ids=("national_id",),
        state=AuthorizationState.CODE_ISSUED,
        created_at=NOW,
        expires_at=NOW + 60,
        offer_id=offer_id,
        dpop_jkt=dpop_jkt,
        subject_id="citizen-1",
        code_hash="c" * 64,
    )
    await SqlAuthorizationStore(session_factory(engine)).add(authorization)
    return authorization


def _grant() -> AccessGrant:
    return AccessGrant(uuid.uuid4().hex * 2, "", ISSUER, NOW + 300, used=False, dpop_jkt=JKT)


def _refresh() -> FirstRefreshToken:
    return FirstRefreshToken(uuid.uuid4().hex * 2, str(uuid.uuid4()), NOW + 86400)


def _jti(scope: str, value: str) -> SingleUse:
    refusal = InvalidDpopProof("used before") if scope == "dpop" else InvalidClientAttestation("!")
    return SingleUse(scope, value, NOW + 65, refusal)


async def _redeem(
    store: SqlAuthorizationStore,
    *,
    grant: AccessGrant | None = None,
    refresh_token: FirstRefreshToken | None = None,
    spend: tuple[SingleUse, ...] = (),
    now: float = NOW + 1,
    match: dict[str, str | None] | None = None,
) -> RedeemedCode | None:
    """The exchange of code "c" * 64 by the right request, but for what ``match`` says."""
    arguments: dict[str, str | None] = {
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "code_challenge": CHALLENGE,
        "dpop_jkt": JKT,
    }
    arguments.update(match or {})
    return await store.redeem_code(
        ISSUER,
        "c" * 64,
        now=now,
        client_id=arguments["client_id"],
        redirect_uri=arguments["redirect_uri"],
        code_challenge=arguments["code_challenge"],
        dpop_jkt=str(arguments["dpop_jkt"]),
        grant=grant or _grant(),
        refresh_token=refresh_token,
        spend=spend,
    )


async def test_a_code_is_redeemed_with_its_offer_grant_and_refresh_token(
    engine: AsyncEngine,
) -> None:
    authorization = await _code_issued(engine)
    store = SqlAuthorizationStore(session_factory(engine))
    grant, refresh = _grant(), _refresh()
    spend = (_jti("dpop", "jkt proof-1"), _jti("client_attestation_pop", "pop-1"))
    redeemed = await store.redeem_code(
        ISSUER,
        "c" * 64,
        now=NOW + 1,
        client_id=CLIENT,
        redirect_uri=REDIRECT,
        code_challenge=CHALLENGE,
        dpop_jkt=JKT,
        grant=grant,
        refresh_token=refresh,
        spend=spend,
    )
    assert redeemed is not None
    assert redeemed.authorization == dataclasses.replace(
        authorization, state=AuthorizationState.REDEEMED
    )
    assert redeemed.offer_redeemed and redeemed.refresh_token_kept
    offer = await _offer_store(engine).get(ISSUER, str(authorization.offer_id))
    assert offer is not None and offer.state is OfferState.REDEEMED and offer.redeemed_at == NOW + 1
    kept = await SqlGrantStore(session_factory(engine)).get(grant.token_hash)
    assert kept == dataclasses.replace(grant, offer_id=str(authorization.offer_id))
    token = await SqlRefreshTokenStore(session_factory(engine)).get(refresh.token_hash)
    assert token is not None
    assert (token.family_id, token.configuration_id, token.subject_id, token.client_id) == (
        refresh.family_id,
        "national_id",
        "citizen-1",
        CLIENT,
    )
    assert (token.dpop_jkt, token.state, token.created_at, token.expires_at) == (
        JKT,
        RefreshState.ACTIVE,
        NOW + 1,
        NOW + 86400,
    )
    # the values are used up: a second use of either is refused wherever it comes
    seen = SqlSingleUse(engine)
    for single_use in spend:
        assert not await seen.first_use(single_use.scope, single_use.value, NOW + 65)
    assert await _redeem(store) is None  # and the code was used


@pytest.mark.parametrize(
    "mismatch",
    [
        {"client_id": "https://other-wallet.example"},
        {"redirect_uri": "https://wallet.example/other"},
        {"code_challenge": "x" * 43},
        {"code_challenge": None},
        {"client_id": None},
        {"dpop_jkt": "another-key"},
    ],
)
async def test_a_code_that_does_not_match_moves_nothing(
    engine: AsyncEngine, mismatch: dict[str, str | None]
) -> None:
    authorization = await _code_issued(engine)
    store = SqlAuthorizationStore(session_factory(engine))
    grant = _grant()
    assert await _redeem(store, grant=grant, match=mismatch) is None
    assert await store.by_code(ISSUER, "c" * 64) == authorization
    assert await SqlGrantStore(session_factory(engine)).get(grant.token_hash) is None
    assert await _redeem(store) is not None  # the right request still can


async def test_a_code_that_ran_out_moves_nothing(engine: AsyncEngine) -> None:
    await _code_issued(engine)
    store = SqlAuthorizationStore(session_factory(engine))
    assert await _redeem(store, now=NOW + 60) is None


async def test_a_code_bound_to_no_key_takes_the_proofs_key(engine: AsyncEngine) -> None:
    await _code_issued(engine, dpop_jkt=None)
    store = SqlAuthorizationStore(session_factory(engine))
    redeemed = await _redeem(store, match={"dpop_jkt": "any-key"})
    assert redeemed is not None


async def test_an_offer_used_already_leaves_the_code_redeemed_without_a_grant(
    engine: AsyncEngine,
) -> None:
    authorization = await _code_issued(engine)
    offers = _offer_store(engine)
    offer = await offers.get(ISSUER, str(authorization.offer_id))
    assert offer is not None
    assert await offers.redeem_without_tx_code(offer.code_hash, NOW, _grant()) is not None
    store = SqlAuthorizationStore(session_factory(engine))
    refresh = _refresh()
    redeemed = await _redeem(store, refresh_token=refresh)
    assert redeemed is not None
    assert not redeemed.offer_redeemed and not redeemed.refresh_token_kept
    assert await SqlRefreshTokenStore(session_factory(engine)).get(refresh.token_hash) is None
    assert await _redeem(store) is None


async def test_a_value_used_before_stops_the_exchange_and_the_others_stay_used(
    engine: AsyncEngine,
) -> None:
    authorization = await _code_issued(engine)
    seen = SqlSingleUse(engine)
    assert await seen.first_use("client_attestation_pop", "pop-1", NOW + 65)
    store = SqlAuthorizationStore(session_factory(engine))
    fresh, replayed = _jti("dpop", "jkt proof-1"), _jti("client_attestation_pop", "pop-1")
    with pytest.raises(UsedBefore) as used:
        await _redeem(store, spend=(fresh, replayed))
    assert used.value.single_use is replayed
    assert isinstance(used.value.refusal, InvalidClientAttestation)
    assert await store.by_code(ISSUER, "c" * 64) == authorization
    assert not await seen.first_use(fresh.scope, fresh.value, NOW + 65)
    async with engine.connect() as connection:
        assert (await connection.execute(select(GRANTS))).all() == []
        assert (await connection.execute(select(REFRESH_TOKENS))).all() == []


async def test_a_value_sent_twice_in_one_request_is_used_before(engine: AsyncEngine) -> None:
    await _code_issued(engine)
    store = SqlAuthorizationStore(session_factory(engine))
    twice = _jti("dpop", "jkt proof-1")
    with pytest.raises(UsedBefore):
        await _redeem(store, spend=(twice, dataclasses.replace(twice)))
    assert await _redeem(store) is not None


async def test_fifty_racing_exchanges_of_one_code_have_one_winner(database_url: str) -> None:
    """Two workers (an engine each) get 50 concurrent exchanges of the same code, each
    with its own proof: exactly one redeems it, and only one grant is kept."""
    async with fresh_engine(database_url) as engine:
        other = create_engine(database_url)
        try:
            await _code_issued(engine)
            stores = [SqlAuthorizationStore(session_factory(e)) for e in (engine, other)]
            results = await asyncio.gather(
                *(
                    _redeem(stores[i % 2], spend=(_jti("dpop", f"jkt proof-{i}"),))
                    for i in range(50)
                ),
                return_exceptions=True,
            )
            assert [r for r in results if isinstance(r, BaseException)] == []
            assert sum(result is not None for result in results) == 1
            async with engine.connect() as connection:
                assert len((await connection.execute(select(GRANTS))).all()) == 1
        finally:
            await other.dispose()


async def test_fifty_racing_exchanges_with_one_proof_use_it_once(database_url: str) -> None:
    """The same proof sent 50 times at once to two workers: one exchange; the others are
    told the proof was used before, or (losing only the code) find no code to redeem."""
    async with fresh_engine(database_url) as engine:
        other = create_engine(database_url)
        try:
            await _code_issued(engine)
            stores = [SqlAuthorizationStore(session_factory(e)) for e in (engine, other)]
            proof = _jti("dpop", "jkt proof-1")
            results = await asyncio.gather(
                *(_redeem(stores[i % 2], spend=(proof,)) for i in range(50)),
                return_exceptions=True,
            )
            assert sum(r is not None and not isinstance(r, BaseException) for r in results) == 1
            assert sum(isinstance(r, UsedBefore) for r in results) == 49
        finally:
            await other.dispose()


async def test_a_pushed_request_is_stored_with_its_single_use_values(
    engine: AsyncEngine,
) -> None:
    store = SqlAuthorizationStore(session_factory(engine))
    first = dataclasses.replace(
        await _code_issued(engine),
        authorization_id=str(uuid.uuid4()),
        request_uri_hash="r" * 64,
        state=AuthorizationState.PUSHED,
        code_hash=None,
        subject_id=None,
    )
    pop = _jti("client_attestation_pop", "pop-1")
    await store.add(first, spend=(pop, _jti("dpop", "jkt proof-1")))
    assert await store.by_request_uri(ISSUER, "r" * 64) == first
    again = dataclasses.replace(
        first, authorization_id=str(uuid.uuid4()), request_uri_hash="s" * 64
    )
    with pytest.raises(UsedBefore) as used:
        await store.add(again, spend=(_jti("dpop", "jkt proof-2"), pop))
    assert used.value.single_use is pop
    assert await store.by_request_uri(ISSUER, "s" * 64) is None
    assert not await SqlSingleUse(engine).first_use("dpop", "jkt proof-2", NOW + 65)
