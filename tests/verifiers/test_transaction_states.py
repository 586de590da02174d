"""The life of a presentation request: ``TRANSACTION_MOVES`` names every state a request
reaches, the final states are those nothing leaves, a request driven through the counter
and wallet endpoints changes state only by listed moves, and a move the table does not
list fails before anything is written."""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar.testing import TestClient
from sqlalchemy import Table

from core.flow_states import IllegalMove
from tests.issuers.test_offer_states import StateTrail, reachable
from tests.verifiers.presenter import (
    create_request,
    disclose_for,
    fetch_request,
    present,
    respond,
    transaction_status,
)
from tests.verifiers.test_presentation import issued, requested_paths
from verifiers.domain import (
    FINAL_STATES,
    SERVED_STATES,
    TRANSACTION_MOVES,
    Transaction,
    TransactionState,
)
from verifiers.services.context import VerifierContext
from verifiers.services.receive_response import record_answer
from verifiers.storage import sql
from verifiers.storage.tables import TransactionRow

VERIFIER = "bar-age-check"


def test_every_request_state_is_reached_from_waiting() -> None:
    assert reachable(TRANSACTION_MOVES, TransactionState.WAITING) == set(TransactionState)
    assert TRANSACTION_MOVES.states() == frozenset(TransactionState)


def test_the_final_states_are_those_nothing_leaves() -> None:
    assert {
        TransactionState.VERIFIED,
        TransactionState.FAILED,
        TransactionState.EXPIRED,
    } == FINAL_STATES
    for final in FINAL_STATES:
        for state in TransactionState:
            with pytest.raises(IllegalMove, match=f"does not move from {final} to {state}"):
                TRANSACTION_MOVES.check(final, state)


def test_the_request_object_is_served_until_the_request_is_answered_or_expires() -> None:
    assert {TransactionState.WAITING, TransactionState.REQUEST_FETCHED} == SERVED_STATES
    assert not TRANSACTION_MOVES.allows(TransactionState.WAITING, TransactionState.VERIFIED)


def test_the_open_requests_index_names_the_states_that_are_not_final() -> None:
    """The partial index (and the query that must match it literally) lists the stored
    states a request can still leave; a new state needs a migration of the index."""
    stored = {s.value for s in TransactionState if not TRANSACTION_MOVES.is_final(s)}
    (index,) = (
        i
        for i in cast(Table, TransactionRow.__table__).indexes
        if i.name == "ix_verifier_transactions_open"
    )
    for where in (
        str(index.dialect_options["sqlite"]["where"]),
        str(index.dialect_options["postgresql"]["where"]),
        str(sql._OPEN),
    ):
        assert set(re.findall(r"'([a-z_]+)'", where)) == stored


def _transaction(status: TransactionState, expires_at: float) -> Transaction:
    return Transaction(
        transaction_id="t",
        verifier_id=VERIFIER,
        request_id="r",
        purpose=None,
        dcql_query={},
        nonce="n",
        state="s",
        response_mode="direct_post",
        same_device=False,
        client_id="x509_hash:abc",
        status=status,
        created_at=0.0,
        expires_at=expires_at,
    )


def test_only_a_request_still_open_expires() -> None:
    for open_state in (TransactionState.WAITING, TransactionState.REQUEST_FETCHED):
        assert _transaction(open_state, 100.0).effective_status(99.0) is open_state
        assert _transaction(open_state, 100.0).effective_status(100.0) is TransactionState.EXPIRED
    for answered in (TransactionState.VERIFIED, TransactionState.FAILED):
        assert _transaction(answered, 100.0).effective_status(500.0) is answered


class _Later:
    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at


def _context(client: TestClient[Any]) -> VerifierContext:
    verifiers: VerifierContext = client.app.state.verifiers
    return verifiers


def _stored(client: TestClient[Any], transaction_id: str) -> Transaction:
    found = client.blocking_portal.call(_context(client).transactions.get, VERIFIER, transaction_id)
    assert found is not None
    return found


def test_requests_change_state_only_by_listed_moves(client: TestClient[Any]) -> None:
    credential, holder = issued(client)

    def look(trail: StateTrail[TransactionState], transaction_id: str) -> None:
        state = _stored(client, transaction_id).effective_status(_context(client).clock.now())
        shown = transaction_status(client, VERIFIER, transaction_id).json()["status"]
        assert shown == state.value  # the counter API's string, unchanged
        trail.saw(state)

    def new_request() -> tuple[dict[str, Any], StateTrail[TransactionState]]:
        created = create_request(client, VERIFIER, template="age_over_18")
        assert created["status"] == TransactionState.WAITING.value
        trail = StateTrail(TRANSACTION_MOVES)
        look(trail, created["transaction_id"])
        return created, trail

    answered, verifying = new_request()
    request = fetch_request(client, answered["uri"])
    look(verifying, answered["transaction_id"])
    request = fetch_request(client, answered["uri"])  # some wallets fetch twice (§5.10)
    look(verifying, answered["transaction_id"])
    presentation = present(
        credential, holder, request, disclose_for(requested_paths(request.payload, "national_id"))
    )
    assert respond(client, request, {"national_id": [presentation]}).status_code == 200
    look(verifying, answered["transaction_id"])
    assert _request_object(client, answered["uri"]).status_code == 400  # answered: gone
    look(verifying, answered["transaction_id"])

    declined, failing = new_request()
    request = fetch_request(client, declined["uri"])
    look(failing, declined["transaction_id"])
    refusal = client.post(
        urlsplit(request.payload["response_uri"]).path,
        data={"error": "access_denied", "state": request.payload["state"]},
    )
    assert refusal.status_code == 200, refusal.text
    look(failing, declined["transaction_id"])

    unread, lapsing = new_request()
    fetched, lapsing_fetched = new_request()
    fetch_request(client, fetched["uri"])
    look(lapsing_fetched, fetched["transaction_id"])
    later = _stored(client, fetched["transaction_id"]).expires_at
    client.app.state.verifiers = dataclasses.replace(_context(client), clock=_Later(later))
    for created, trail in ((unread, lapsing), (fetched, lapsing_fetched)):
        look(trail, created["transaction_id"])
        assert trail.seen[-1] is TransactionState.EXPIRED
        assert _stored(client, created["transaction_id"]).status is not TransactionState.EXPIRED
    look(verifying, answered["transaction_id"])  # an answered request does not expire

    assert verifying.seen[-1] is TransactionState.VERIFIED
    assert failing.seen[-1] is TransactionState.FAILED
    trails = (verifying, failing, lapsing, lapsing_fetched)
    assert set().union(*(t.seen for t in trails)) == set(TransactionState)


def _request_object(client: TestClient[Any], uri: str) -> Any:
    """A GET of the request object the QR code's URI names."""
    request_uri = parse_qs(urlsplit(uri).query)["request_uri"][0]
    return client.get(urlsplit(request_uri).path)


def test_a_move_the_table_does_not_list_fails_before_anything_is_written(
    client: TestClient[Any],
) -> None:
    created = create_request(client, VERIFIER, template="age_over_18")
    fetch_request(client, created["uri"])
    transaction = _stored(client, created["transaction_id"])
    assert transaction.status is TransactionState.REQUEST_FETCHED
    back_to_waiting = functools.partial(
        record_answer,
        _context(client),
        transaction,
        TransactionState.REQUEST_FETCHED,
        TransactionState.WAITING,
        result={"checks": []},
        response_code_hash=None,
        audited="ok",
    )
    with pytest.raises(IllegalMove, match="from request_fetched to waiting"):
        client.blocking_portal.call(back_to_waiting)
    after = _stored(client, created["transaction_id"])
    assert after.status is TransactionState.REQUEST_FETCHED
    assert after.result is None and after.completed_at is None
    shown = transaction_status(client, VERIFIER, created["transaction_id"]).json()
    assert shown["status"] == "request_fetched" and "result" not in shown
