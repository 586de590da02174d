"""The life of a credential offer: ``OFFER_MOVES`` names every state an offer reaches, and
an offer driven through the issuance endpoints changes state only by the moves it lists."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, Generic, TypeVar

import pytest
from litestar.testing import TestClient

from core.flow_states import IllegalMove, Moves
from issuers.domain import OFFER_MOVES, Offer, OfferState
from issuers.services.context import IssuerContext
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer, operator_key
from tests.issuers.wallet import Wallet, proof, read_offer

S = TypeVar("S", bound=StrEnum)
ISSUER = "civil-registry"


def reachable(moves: Moves[S], start: S) -> set[S]:
    """Every state a flow that starts in ``start`` can reach by the table's moves."""
    seen, frontier = {start}, [start]
    while frontier:
        for following in moves.table.get(frontier.pop(), frozenset()):
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    return seen


class StateTrail(Generic[S]):
    """The states one flow was seen in, step after step: each change must be a move the
    table lists."""

    def __init__(self, moves: Moves[S], states: Iterable[S] = ()) -> None:
        self.moves = moves
        self.seen: list[S] = []
        for state in states:
            self.saw(state)

    def saw(self, state: S) -> None:
        if self.seen and self.seen[-1] is not state:
            assert self.moves.allows(self.seen[-1], state), (
                f"{self.seen[-1].value} → {state.value} is not a listed move"
            )
        self.seen.append(state)


def test_every_offer_state_is_reached_from_offered() -> None:
    assert reachable(OFFER_MOVES, OfferState.OFFERED) == set(OfferState)
    assert OFFER_MOVES.states() == frozenset(OfferState)


@pytest.mark.parametrize("final", [OfferState.REDEEMED, OfferState.EXPIRED])
def test_redeemed_and_expired_offers_are_final(final: OfferState) -> None:
    assert OFFER_MOVES.is_final(final)
    for state in OfferState:
        with pytest.raises(IllegalMove, match=f"a credential offer does not move from {final}"):
            OFFER_MOVES.check(final, state)


def test_an_offer_is_never_offered_again() -> None:
    assert not OFFER_MOVES.allows(OfferState.OFFERED, OfferState.OFFERED)
    with pytest.raises(IllegalMove, match="does not move from redeemed to offered"):
        OFFER_MOVES.check(OfferState.REDEEMED, OfferState.OFFERED)


def _offer(state: OfferState, expires_at: float) -> Offer:
    return Offer(
        offer_id="o",
        issuer_id=ISSUER,
        configuration_id="national_id",
        subject_id="citizen-42",
        claims={},
        code_hash="c",
        tx_code_hash=None,
        tx_code_attempts=0,
        tx_code_max_attempts=5,
        state=state,
        created_at=0.0,
        expires_at=expires_at,
    )


def test_only_an_offer_still_offered_expires() -> None:
    assert _offer(OfferState.OFFERED, 100.0).effective_state(99.0) is OfferState.OFFERED
    assert _offer(OfferState.OFFERED, 100.0).effective_state(100.0) is OfferState.EXPIRED
    assert _offer(OfferState.REDEEMED, 100.0).effective_state(500.0) is OfferState.REDEEMED


class _Later:
    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at


def _desk_states(client: TestClient[Any]) -> dict[str, str]:
    """What the agency's desk shows of each offer of the citizen: the API's strings."""
    response = client.get(
        f"/issuers/{ISSUER}/subjects/citizen-42",
        headers={"Authorization": f"Bearer {operator_key(client, ISSUER)}"},
    )
    assert response.status_code == 200, response.text
    return {o["offer_id"]: o["state"] for o in response.json()["offers"]}


def test_offers_change_state_only_by_listed_moves(client: TestClient[Any]) -> None:
    def context() -> IssuerContext:
        issuers: IssuerContext = client.app.state.issuers
        return issuers

    def stored(offer_id: str) -> Offer:
        offer = client.blocking_portal.call(context().offers.get, ISSUER, offer_id)
        assert offer is not None
        return offer

    def look(trail: StateTrail[OfferState], offer_id: str) -> None:
        state = stored(offer_id).effective_state(context().clock.now())
        assert _desk_states(client)[offer_id] == state.value  # the API's string, unchanged
        trail.saw(state)

    redeemed = create_offer(client, ISSUER, "national_id", CITIZEN, tx_code=True)
    lapsing = create_offer(client, ISSUER, "national_id", CITIZEN)
    redeeming, expiring = StateTrail(OFFER_MOVES), StateTrail(OFFER_MOVES)
    look(redeeming, redeemed["offer_id"])
    look(expiring, lapsing["offer_id"])

    wallet = Wallet(client)
    offer = read_offer(client, redeemed["offer_uri"])  # by reference: still offered
    look(redeeming, redeemed["offer_id"])
    assert wallet.token(offer, "not-the-code").status_code == 400
    look(redeeming, redeemed["offer_id"])
    token = wallet.token(offer, redeemed["tx_code"])
    assert token.status_code == 200, token.text
    look(redeeming, redeemed["offer_id"])
    assert wallet.token(offer, redeemed["tx_code"]).status_code == 400  # once only
    metadata = wallet.metadata(offer["credential_issuer"])
    body = {
        "credential_configuration_id": "national_id",
        "proofs": {
            "jwt": [proof(wallet.new_holder(), offer["credential_issuer"], wallet.nonce(metadata))]
        },
    }
    issued = wallet.credential(metadata, token.json()["access_token"], body)
    assert issued.status_code == 200, issued.text
    look(redeeming, redeemed["offer_id"])

    later = stored(lapsing["offer_id"]).expires_at
    client.app.state.issuers = dataclasses.replace(context(), clock=_Later(later))
    look(expiring, lapsing["offer_id"])
    assert stored(lapsing["offer_id"]).state is OfferState.OFFERED  # expiry is never stored
    assert wallet.token(read_offer_by_value(lapsing), None).status_code == 400
    look(expiring, lapsing["offer_id"])

    assert redeeming.seen[0] is OfferState.OFFERED and redeeming.seen[-1] is OfferState.REDEEMED
    assert expiring.seen[-1] is OfferState.EXPIRED
    assert set(redeeming.seen) | set(expiring.seen) == set(OfferState)


def read_offer_by_value(created: dict[str, Any]) -> dict[str, Any]:
    """The offer's document as its QR code carries it by value (an expired offer is no
    longer served by reference)."""
    offer: dict[str, Any] = created["credential_offer"]
    return offer
