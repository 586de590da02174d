"""Composition root: settings, ``create_app()``, wiring of roles to storage, error
rendering and the ``idwallet`` command. The one place that imports every role and
every role's ``storage``. Tests: ``tests/app``.
"""

from app.factory import create_app

__all__ = ["create_app"]
