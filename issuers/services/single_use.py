"""The single-use values of a request to an agency (its DPoP proof's and its wallet
attestation PoP's ``jti``, ``core.replay``) that no storage statement takes along: used up
one by one, before anything is done with them."""

from __future__ import annotations

from collections.abc import Sequence

from core.replay import SingleUse, use_up
from issuers.services.context import IssuerContext


async def use_up_each(context: IssuerContext, spend: Sequence[SingleUse]) -> None:
    """Each value's refusal when it was used before."""
    if not spend:
        return
    if context.seen_once is None:  # the checks that gave the values refuse without one
        raise RuntimeError("single-use values need the agency's record of them")
    for single_use in spend:
        await use_up(context.seen_once, single_use)
