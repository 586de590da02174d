"""Which mediator, if any, the current request acts through (docs/mediators.md).

The mobile API's session guard sets it for a request made with a mediation token; every
activity-log entry recorded while handling that request carries it (``assisted_by``), so
the citizen sees each action done "with the help of mediator X at space Y"."""

from __future__ import annotations

from contextvars import ContextVar

from wallet.services.activity_messages import AssistedBy

#: Set per request (a task of its own: it never leaks into another request).
ASSISTING: ContextVar[AssistedBy | None] = ContextVar("assisting", default=None)
