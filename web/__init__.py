"""The screens people see: a service counter's screen and the citizen web wallet (the
agency desk is to come). Static pages and scripts that call the public HTTP APIs exactly
as any other client does: no business logic lives here, and nothing here imports a role.

May import: ``litestar``, the standard library. Must never import: ``issuers``,
``verifiers``, ``wallet``, ``app``. Tests: ``tests/web`` (a real Chromium).
"""
