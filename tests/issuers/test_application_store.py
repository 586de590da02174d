"""The store of applications for credentials a clerk approves first, on SQLite and
PostgreSQL: each decision is one compare-and-set, so of racing clerks (on two workers)
exactly one decides; of racing deliveries exactly one signs; nothing moves once it ran out;
an application is found only by its own agency; the citizen's data is sealed at rest and
forgotten once the application ends; housekeeping deletes ended applications."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.flow_states import IllegalMove
from core.sealing import Sealer
from core.status_list.token import StatusReference
from core.storage.engine import create_engine
from issuers.domain import APPLICATION_MOVES, Application, ApplicationState
from issuers.storage.application_records import ApplicationRecords
from issuers.storage.applications import SqlApplicationStore
from issuers.storage.housekeeping import SqlIssuerHousekeeping
from issuers.storage.offer_claims import SealedClaims
from issuers.storage.sqlalchemy_issuance import CoreIssuanceStatements
from tests.conftest import fresh_engine

NOW = 1_800_000_000.0
CLAIMS = SealedClaims(Sealer(os.urandom(32)))
HOLDER = {"kty": "EC", "crv": "P-256", "x": "Zzcanary-x", "y": "Zzcanary-y"}


def _application(issuer_id: str = "transport-agency", **changes: Any) -> Application:
    application = Application(
        application_id=uuid.uuid4().hex,
        issuer_id=issuer_id,
        offer_id=uuid.uuid4().hex,
        configuration_id="professional_driving_licence",
        subject_id="driver-7",
        claims={"family_name": "Zzcanary", "driving_privileges": [{"vehicle_category_code": "C"}]},
        holder_keys=(HOLDER, {**HOLDER, "x": "other-x"}),
        transaction_hash=uuid.uuid4().hex * 2,
        token_hash=uuid.uuid4().hex * 2,
        notification_id=uuid.uuid4().hex,
        state=ApplicationState.PENDING,
        created_at=NOW,
        expires_at=NOW + 86400,
    )
    return dataclasses.replace(application, **changes)


async def _add(engine: AsyncEngine, application: Application) -> None:
    """As the credential request records it, in its own transaction."""
    async with engine.begin() as connection:
        await CoreIssuanceStatements(connection).add_application(
            ApplicationRecords(CLAIMS).values(application)
        )


async def _raw(engine: AsyncEngine, application_id: str) -> str:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT sealed, coalesce(refusal, '') AS refusal FROM issuer_applications"
                    " WHERE application_id = :id"
                ),
                {"id": application_id},
            )
        ).first()
    assert row is not None
    return f"{row.sealed} {row.refusal}"


async def _approve(store: SqlApplicationStore, application: Application, now: float) -> bool:
    return await store.move(
        application.issuer_id,
        application.application_id,
        expected=ApplicationState.PENDING,
        state=ApplicationState.APPROVED,
        now=now,
    )


def _signed(references: list[StatusReference]) -> list[str]:
    return [f"credential-{r.index}" for r in references]


async def test_an_application_is_approved_then_delivered_once(engine: AsyncEngine) -> None:
    store = SqlApplicationStore(engine, CLAIMS)
    application = _application()
    await _add(engine, application)
    assert await store.by_token("transport-agency", application.token_hash) == application
    assert "Zzcanary" not in await _raw(engine, application.application_id)  # sealed at rest
    async with store.open_delivery("transport-agency", application.application_id, NOW) as work:
        assert work is None  # not approved yet
    assert await _approve(store, application, NOW + 1)
    async with store.open_delivery("transport-agency", application.application_id, NOW + 2) as work:
        assert work is not None
        assert work.application.state is ApplicationState.DELIVERED
        assert work.application.holder_keys == application.holder_keys
        records, credentials = await work.issue(
            count=2,
            now=NOW + 2,
            expires_at=NOW + 1000,
            status_list_uri=lambda list_id: f"https://issuer.example/{list_id}",
            sign=_signed,
            nonces=[],
            notification_id=application.notification_id,
        )
        assert len(credentials) == 2
        assert {r.notification_id for r in records} == {application.notification_id}
        assert {r.offer_id for r in records} == {application.offer_id}
        await work.keep_response(b"sealed response", NOW + 300)
    delivered = await store.get("transport-agency", application.application_id)
    assert delivered is not None and delivered.state is ApplicationState.DELIVERED
    assert delivered.kept_response == b"sealed response" and delivered.expires_at == NOW + 300
    assert delivered.claims == {} and delivered.holder_keys == ()  # forgotten once delivered
    async with store.open_delivery(
        "transport-agency", application.application_id, NOW + 3
    ) as again:
        assert again is None
    async with engine.connect() as connection:
        issued = await connection.scalar(
            text("SELECT count(*) FROM issuer_credentials WHERE offer_id = :offer"),
            {"offer": application.offer_id},
        )
    assert issued == 2


async def test_a_failed_delivery_leaves_it_approved(engine: AsyncEngine) -> None:
    store = SqlApplicationStore(engine, CLAIMS)
    application = _application()
    await _add(engine, application)
    assert await _approve(store, application, NOW)

    def failing(references: list[StatusReference]) -> list[str]:
        raise RuntimeError("the signing key is away")

    with pytest.raises(RuntimeError):
        async with store.open_delivery(
            "transport-agency", application.application_id, NOW + 1
        ) as work:
            assert work is not None
            await work.issue(
                count=2,
                now=NOW + 1,
                expires_at=NOW + 1000,
                status_list_uri=str,
                sign=failing,
                nonces=[],
            )
    again = await store.get("transport-agency", application.application_id)
    assert again is not None and again.state is ApplicationState.APPROVED
    assert again.claims == application.claims


async def test_a_refusal_forgets_the_data_and_seals_the_reason(engine: AsyncEngine) -> None:
    store = SqlApplicationStore(engine, CLAIMS)
    application = _application()
    await _add(engine, application)
    assert await store.move(
        "transport-agency",
        application.application_id,
        expected=ApplicationState.PENDING,
        state=ApplicationState.REFUSED,
        now=NOW + 5,
        refusal_reason="Zzcanary eyesight",
    )
    refused = await store.get("transport-agency", application.application_id)
    assert refused is not None and refused.state is ApplicationState.REFUSED
    assert refused.refusal_reason == "Zzcanary eyesight" and refused.decided_at == NOW + 5
    assert refused.claims == {} and refused.holder_keys == ()
    assert "Zzcanary" not in await _raw(engine, application.application_id)
    assert not await _approve(store, application, NOW + 6)  # decided once


async def test_another_agency_finds_nothing(engine: AsyncEngine) -> None:
    store = SqlApplicationStore(engine, CLAIMS)
    application = _application()
    await _add(engine, application)
    assert await store.by_token("civil-registry", application.token_hash) is None
    assert await store.get("civil-registry", application.application_id) is None
    assert await store.listed("civil-registry", now=NOW, state=None, limit=10) == []
    assert not await store.move(
        "civil-registry",
        application.application_id,
        expected=ApplicationState.PENDING,
        state=ApplicationState.APPROVED,
        now=NOW,
    )
    async with store.open_delivery("civil-registry", application.application_id, NOW) as work:
        assert work is None


async def test_listed_by_state_oldest_first(engine: AsyncEngine) -> None:
    store = SqlApplicationStore(engine, CLAIMS)
    old = _application(created_at=NOW - 100, expires_at=NOW + 10)
    new = _application(created_at=NOW - 50)
    decided = _application(created_at=NOW - 70)
    for application in (new, old, decided):
        await _add(engine, application)
    assert await _approve(store, decided, NOW - 60)

    def ids(found: list[Application]) -> list[str]:
        return [a.application_id for a in found]

    everything = await store.listed("transport-agency", now=NOW, state=None, limit=10)
    assert ids(everything) == [old.application_id, decided.application_id, new.application_id]
    pending = await store.listed(
        "transport-agency", now=NOW, state=ApplicationState.PENDING, limit=10
    )
    assert ids(pending) == [old.application_id, new.application_id]
    assert ids(
        await store.listed("transport-agency", now=NOW, state=ApplicationState.PENDING, limit=1)
    ) == [old.application_id]
    later = NOW + 11  # the old one ran out
    assert ids(
        await store.listed("transport-agency", now=later, state=ApplicationState.PENDING, limit=9)
    ) == [new.application_id]
    assert ids(
        await store.listed("transport-agency", now=later, state=ApplicationState.EXPIRED, limit=9)
    ) == [old.application_id]
    assert ids(
        await store.listed("transport-agency", now=later, state=ApplicationState.APPROVED, limit=9)
    ) == [decided.application_id]


async def test_nothing_moves_once_it_ran_out_and_housekeeping_forgets_it(
    engine: AsyncEngine,
) -> None:
    store = SqlApplicationStore(engine, CLAIMS)
    application = _application(expires_at=NOW + 60)
    approved = _application(expires_at=NOW + 60)
    for one in (application, approved):
        await _add(engine, one)
    assert await _approve(store, approved, NOW)
    assert application.effective_state(NOW + 60) is ApplicationState.EXPIRED
    assert not await _approve(store, application, NOW + 60)
    async with store.open_delivery("transport-agency", approved.application_id, NOW + 60) as work:
        assert work is None
    housekeeping = SqlIssuerHousekeeping(engine)
    assert await housekeeping.forget_ended(NOW + 59) == 0
    assert await housekeeping.forget_ended(NOW + 60) == 2
    assert await store.get("transport-agency", application.application_id) is None


async def test_a_revoked_token_withdraws_its_live_application(engine: AsyncEngine) -> None:
    store = SqlApplicationStore(engine, CLAIMS)
    application = _application()
    await _add(engine, application)
    assert await store.withdraw_for_offer(application.offer_id, NOW) == 1
    withdrawn = await store.get("transport-agency", application.application_id)
    assert withdrawn is not None and withdrawn.state is ApplicationState.WITHDRAWN
    assert withdrawn.claims == {}
    assert await store.withdraw_for_offer(application.offer_id, NOW) == 0
    assert not await _approve(store, application, NOW)


def test_the_moves_are_the_designed_ones() -> None:
    for final in (
        ApplicationState.REFUSED,
        ApplicationState.DELIVERED,
        ApplicationState.WITHDRAWN,
        ApplicationState.EXPIRED,
    ):
        assert APPLICATION_MOVES.is_final(final)
    # nothing is delivered that a clerk did not approve, and an approval is not taken back
    with pytest.raises(IllegalMove):
        APPLICATION_MOVES.check(ApplicationState.PENDING, ApplicationState.DELIVERED)
    with pytest.raises(IllegalMove):
        APPLICATION_MOVES.check(ApplicationState.APPROVED, ApplicationState.REFUSED)
    assert APPLICATION_MOVES.states() == frozenset(ApplicationState)


async def test_fifty_racing_decisions_across_two_workers_have_one_winner(
    database_url: str,
) -> None:
    async with fresh_engine(database_url) as engine:
        other = create_engine(database_url)
        try:
            stores = [SqlApplicationStore(e, CLAIMS) for e in (engine, other)]
            application = _application()
            await _add(engine, application)
            results = await asyncio.gather(
                *(
                    stores[i % 2].move(
                        "transport-agency",
                        application.application_id,
                        expected=ApplicationState.PENDING,
                        state=ApplicationState.APPROVED if i % 3 else ApplicationState.REFUSED,
                        now=NOW + 1,
                        refusal_reason=f"clerk {i}",
                    )
                    for i in range(50)
                )
            )
            assert results.count(True) == 1
        finally:
            await other.dispose()


async def test_twenty_racing_deliveries_sign_once(database_url: str) -> None:
    async with fresh_engine(database_url) as engine:
        other = create_engine(database_url)
        try:
            stores = [SqlApplicationStore(e, CLAIMS) for e in (engine, other)]
            application = _application()
            await _add(engine, application)
            assert await _approve(stores[0], application, NOW)
            signed: list[int] = []

            async def deliver(store: SqlApplicationStore) -> bool:
                async with store.open_delivery(
                    "transport-agency", application.application_id, NOW + 1
                ) as work:
                    if work is None:
                        return False
                    _, credentials = await work.issue(
                        count=2,
                        now=NOW + 1,
                        expires_at=NOW + 1000,
                        status_list_uri=str,
                        sign=_signed,
                        nonces=[],
                    )
                    signed.append(len(credentials))
                    return True

            results = await asyncio.gather(*(deliver(stores[i % 2]) for i in range(20)))
            assert results.count(True) == 1 and signed == [2]
        finally:
            await other.dispose()
