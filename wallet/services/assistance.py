"""Which mediator, if any, the current request acts through (docs/mediators.md).

The mobile API's session guard sets it for a request made with a mediation token; every
activity-log entry recorded while handling that request carries it (``assisted_by``), so
the citizen sees each action done "with the help of mediator X at space Y"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from wallet.services.activity_messages import AssistedBy

#: Set per request (a task of its own: it never leaks into another request), and while
#: the credentials still to come of an offer accepted through a mediation are stored.
ASSISTING: ContextVar[AssistedBy | None] = ContextVar("assisting", default=None)


@contextmanager
def marked_as(assisted_by: AssistedBy | None) -> Iterator[None]:
    """Within the block, entries are marked as done with ``assisted_by``'s help (when
    given): an offer accepted through a mediation whose deferred credentials arrive
    later, fetched by the citizen's phone or by the wallet's poller."""
    if assisted_by is None:
        yield
        return
    token = ASSISTING.set(assisted_by)
    try:
        yield
    finally:
        ASSISTING.reset(token)
