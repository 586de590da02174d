"""Composition root: settings, ``create_app()``, wiring of roles to storage, error
rendering and the ``idwallet`` command. The one place that imports every role and
every role's ``storage``. Tests: ``tests/app``.

``create_app`` is imported on first use, so that the command line, which mostly talks
to a running server, starts without loading the whole application.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.factory import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from app.factory import create_app

        return create_app
    raise AttributeError(f"module 'app' has no attribute {name!r}")
