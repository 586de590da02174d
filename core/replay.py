"""Values that may be used once: a DPoP proof's ``jti`` (RFC 9449 §11.1), a client
attestation PoP's ``jti`` (OAuth attestation-based client authentication), anything a
sender must not be able to replay within the time it is accepted.

``core`` only states what is asked of the record (``SeenOnce``); the deployment's storage
answers it with one statement that any number of workers can race on.

A verification that accepts such a value hands it back as a ``SingleUse``, not yet
recorded: the caller uses it up either on its own (``use_up``, through ``SeenOnce``) or
in the very statement that makes the change the value authorizes, where its storage can
(one round trip instead of two); a storage that finds it used before raises
``UsedBefore`` and makes no change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class SeenOnce(Protocol):
    async def first_use(self, scope: str, value: str, keep_until: float) -> bool:
        """True the first time ``value`` is seen in ``scope`` (it is then remembered until
        ``keep_until``, seconds since the epoch); False for every later use, whichever
        worker saw the first."""
        ...


@dataclass(frozen=True, slots=True)
class SingleUse:
    """A value a verification accepted, to be remembered in ``scope`` until
    ``keep_until`` once it is used up; ``refusal`` is the error that answers a request
    whose value was used before."""

    scope: str
    value: str
    keep_until: float
    refusal: Exception


class UsedBefore(Exception):
    """A storage was asked to use up ``single_use`` with a change, and it had been used
    before: the change was not made."""

    def __init__(self, single_use: SingleUse) -> None:
        super().__init__(f"a {single_use.scope} value was used before")
        self.single_use = single_use

    @property
    def refusal(self) -> Exception:
        return self.single_use.refusal


async def use_up(seen: SeenOnce, single_use: SingleUse) -> None:
    """Record ``single_use`` on its own; its ``refusal`` when it was used before."""
    if not await seen.first_use(single_use.scope, single_use.value, single_use.keep_until):
        raise single_use.refusal
