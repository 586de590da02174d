"""The wallet's flows in storage, on SQLite and PostgreSQL: when the next pending issuance
is due (what the deferred-credential poller sleeps until), and which are due now."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.engine import session_factory
from wallet.domain import Account, Device, Flow, FlowKind, FlowState, StoredCredential
from wallet.storage.sql import SqlWalletStore

NOW = 1_800_000_000.0


@pytest.fixture
async def store(engine: AsyncEngine) -> AsyncIterator[SqlWalletStore]:
    yield SqlWalletStore(session_factory(engine))


async def _account(store: SqlWalletStore) -> str:
    account_id = str(uuid.uuid4())
    device = Device(str(uuid.uuid4()), account_id, uuid.uuid4().hex, {}, b"", NOW, None)
    await store.accounts.create(Account(account_id, b"key", NOW), device)
    return account_id


async def _flow(
    store: SqlWalletStore,
    account_id: str,
    *,
    due_at: float | None = None,
    state: FlowState = FlowState.PENDING,
    expires_at: float = NOW + 3600,
) -> str:
    """A flow in ``state`` (``pending`` with ``due_at``), moved there as the steps move it."""
    flow = Flow(str(uuid.uuid4()), account_id, FlowKind.OFFER, FlowState.BUSY, b"", expires_at)
    assert await store.flows.add(flow, NOW, cap=100)
    assert await store.flows.move(
        account_id, flow.flow_id, expected=FlowState.BUSY, state=state, due_at=due_at
    )
    return flow.flow_id


async def test_nothing_pending_is_never_due(store: SqlWalletStore) -> None:
    account_id = await _account(store)
    assert await store.flows.next_due(NOW) is None
    await _flow(store, account_id, state=FlowState.OFFERED)
    await _flow(store, account_id, state=FlowState.RECEIVED)
    assert await store.flows.next_due(NOW) is None


async def test_the_earliest_pending_flow_of_any_account_is_next(store: SqlWalletStore) -> None:
    first, second = await _account(store), await _account(store)
    await _flow(store, first, due_at=NOW + 300)
    await _flow(store, second, due_at=NOW + 5)
    await _flow(store, first, due_at=NOW + 60)
    assert await store.flows.next_due(NOW) == NOW + 5


async def test_an_overdue_flow_is_next_with_its_past_due_time(store: SqlWalletStore) -> None:
    account_id = await _account(store)
    overdue = await _flow(store, account_id, due_at=NOW - 30)
    await _flow(store, account_id, due_at=NOW + 5)
    assert await store.flows.next_due(NOW) == NOW - 30
    assert await store.flows.due(NOW, 10) == [(account_id, overdue)]


async def test_a_flow_being_fetched_or_expired_is_not_next(store: SqlWalletStore) -> None:
    account_id = await _account(store)
    busy = await _flow(store, account_id, due_at=NOW + 5)
    await _flow(store, account_id, due_at=NOW + 1, expires_at=NOW)  # ran out
    await _flow(store, account_id, due_at=NOW + 60)
    # a worker claims the first: it is asked about by that worker, not due for others
    assert await store.flows.move(
        account_id, busy, expected=FlowState.PENDING, state=FlowState.BUSY
    )
    assert await store.flows.next_due(NOW) == NOW + 60
    # asked about, it is pending again with its next due time
    assert await store.flows.move(
        account_id, busy, expected=FlowState.BUSY, state=FlowState.PENDING, due_at=NOW + 10
    )
    assert await store.flows.next_due(NOW) == NOW + 10


async def test_a_flow_kept_with_the_credentials_listed(store: SqlWalletStore) -> None:
    """A scan keeps its flow and lists the citizen's credentials in one round trip: the
    list is ``credentials.list``'s; over the cap nothing is kept and nothing listed."""
    account_id = await _account(store)
    other = await _account(store)

    def new_flow(owner: str) -> Flow:
        return Flow(
            str(uuid.uuid4()), owner, FlowKind.PRESENTATION, FlowState.CONSENT_NEEDED, b"", NOW + 60
        )

    assert await store.flows.add_listing(new_flow(account_id), NOW, cap=2) == []
    for index, created in enumerate((NOW + 2, NOW + 1)):
        await store.credentials.add(
            StoredCredential(f"c{index}", account_id, b"sealed", index, created, None)
        )
    await store.credentials.add(StoredCredential("theirs", other, b"sealed", 0, NOW, None))
    kept = new_flow(account_id)
    listed = await store.flows.add_listing(kept, NOW, cap=2)
    assert listed == await store.credentials.list(account_id)
    assert [c.credential_id for c in listed or []] == ["c1", "c0"]
    assert await store.flows.get(account_id, kept.flow_id, NOW) is not None
    refused = new_flow(account_id)
    assert await store.flows.add_listing(refused, NOW, cap=2) is None  # two unfinished already
    assert await store.flows.get(account_id, refused.flow_id, NOW) is None


async def test_a_flow_claimed_with_the_credentials_listed(store: SqlWalletStore) -> None:
    """An approval claims its flow and lists the citizen's credentials in one round trip:
    the flow as ``claim`` returns it, the list as ``credentials.list`` gives it."""
    account_id = await _account(store)
    sealed = b"sealed flow content"
    flow = Flow(
        str(uuid.uuid4()),
        account_id,
        FlowKind.PRESENTATION,
        FlowState.CONSENT_NEEDED,
        sealed,
        NOW + 60,
    )
    assert await store.flows.add(flow, NOW, cap=5)
    args = (account_id, flow.flow_id, FlowKind.PRESENTATION, FlowState.CONSENT_NEEDED, NOW)
    claimed = await store.flows.claim_listing(*args)
    assert claimed == (flow, [])  # no credentials yet: the flow all the same
    assert await store.flows.claim_listing(*args) is None  # busy now: claimed once
    assert await store.flows.move(
        account_id, flow.flow_id, expected=FlowState.BUSY, state=FlowState.CONSENT_NEEDED
    )
    for index, created in enumerate((NOW + 2, NOW + 1, NOW + 3)):
        await store.credentials.add(
            StoredCredential(f"c{index}", account_id, b"sealed", index, created, None)
        )
    claimed = await store.flows.claim_listing(*args)
    assert claimed is not None
    assert claimed[0] == flow  # its sealed content whole, though listed beside three
    assert claimed[1] == await store.credentials.list(account_id)
    assert [c.credential_id for c in claimed[1]] == ["c1", "c0", "c2"]
    other = await _account(store)
    assert await store.flows.claim_listing(other, *args[1:]) is None  # not theirs
