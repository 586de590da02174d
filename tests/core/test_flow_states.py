from enum import StrEnum
from typing import Any

import pytest

from core.flow_states import IllegalMove, Moves
from issuers import domain as issuer_domain
from verifiers import domain as verifier_domain
from wallet.domain import FLOW_MOVES, FlowKind, FlowState


class Light(StrEnum):
    RED = "red"
    GREEN = "green"
    OFF = "off"


LIGHT = Moves.of("light", {Light.RED: {Light.GREEN, Light.OFF}, Light.GREEN: {Light.RED}})


def test_a_listed_move_is_allowed_and_returns_the_next_state() -> None:
    assert LIGHT.allows(Light.RED, Light.GREEN)
    assert LIGHT.check(Light.GREEN, Light.RED) is Light.RED


def test_an_unlisted_move_is_an_illegal_move_that_names_both_states() -> None:
    assert not LIGHT.allows(Light.GREEN, Light.OFF)
    with pytest.raises(IllegalMove, match="a light does not move from green to off"):
        LIGHT.check(Light.GREEN, Light.OFF)


def test_a_state_nothing_leaves_is_final() -> None:
    assert LIGHT.is_final(Light.OFF)
    assert not LIGHT.is_final(Light.RED)
    with pytest.raises(IllegalMove):
        LIGHT.check(Light.OFF, Light.RED)
    assert LIGHT.states() == frozenset(Light)


@pytest.mark.parametrize("kind", list(FlowKind))
def test_every_wallet_step_starts_and_ends_in_busy(kind: FlowKind) -> None:
    moves = FLOW_MOVES[kind]
    for state in moves.states() - {FlowState.BUSY}:
        if not moves.is_final(state):
            assert moves.table[state] == {FlowState.BUSY}
        assert moves.allows(FlowState.BUSY, state)
    assert moves.allows(FlowState.BUSY, FlowState.FAILED)


def test_the_two_wallet_flows_share_only_busy_and_failed() -> None:
    offer, presentation = FLOW_MOVES[FlowKind.OFFER], FLOW_MOVES[FlowKind.PRESENTATION]
    assert offer.states() & presentation.states() == {FlowState.BUSY, FlowState.FAILED}
    assert offer.states() | presentation.states() == frozenset(FlowState)


ROLE_TABLES = [
    *FLOW_MOVES.values(),
    issuer_domain.OFFER_MOVES,
    verifier_domain.TRANSACTION_MOVES,
]


@pytest.mark.parametrize("moves", ROLE_TABLES, ids=lambda moves: moves.name)
def test_every_flow_of_every_role_can_end(moves: Moves[Any]) -> None:
    """From any state a table names, some final state is reachable: no flow is kept
    going round for good by the moves it may make."""
    for state in moves.states():
        seen, frontier = {state}, [state]
        while frontier:
            for following in moves.table.get(frontier.pop(), frozenset()):
                if following not in seen:
                    seen.add(following)
                    frontier.append(following)
        assert any(moves.is_final(reached) for reached in seen), state
