"""The states of a multi-step flow and the moves between them, written down once.

Each role names the states of its flows as a ``StrEnum`` and lists, beside it, the moves
a flow may make in a :class:`Moves` table. Storage moves a flow by compare-and-set on the
state it expects, and the services ask the table first: a move the design does not allow
is a programming error that fails loudly, never a state the database learns silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)


class IllegalMove(RuntimeError):
    """A flow was asked to make a move its table does not list."""


@dataclass(frozen=True, slots=True)
class Moves(Generic[S]):
    """Which states a flow of one kind may move to from each state.

    States that are not keys of ``table`` are final: nothing moves out of them.
    """

    name: str
    table: Mapping[S, frozenset[S]]

    @classmethod
    def of(cls, name: str, moves: Mapping[S, Iterable[S]]) -> Moves[S]:
        return cls(name, {state: frozenset(targets) for state, targets in moves.items()})

    def allows(self, current: S, following: S) -> bool:
        return following in self.table.get(current, frozenset())

    def check(self, current: S, following: S) -> S:
        """``following``, when the table lists the move; :class:`IllegalMove` otherwise."""
        if not self.allows(current, following):
            raise IllegalMove(
                f"a {self.name} does not move from {current.value} to {following.value}"
            )
        return following

    def is_final(self, state: S) -> bool:
        return not self.table.get(state)

    def states(self) -> frozenset[S]:
        """Every state the table names, as a source or as a target."""
        named: set[S] = set(self.table)
        for targets in self.table.values():
            named.update(targets)
        return frozenset(named)
