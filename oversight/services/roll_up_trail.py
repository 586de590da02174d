"""The housekeeping pass that adds the audit entries appended since the last pass to the
daily counts the figures are read from (``oversight.storage.sql`` says how it stays exact
across workers)."""

from __future__ import annotations

from oversight.services.context import OversightContext


async def roll_up_trail(context: OversightContext) -> int:
    """How many entries this pass rolled up (0 while another worker holds the roll-up)."""
    return await context.counts.roll_up(context.clock.now())
