"""The screens people see: an agency desk, a service counter's screen and the citizen web
wallet. Static pages and scripts that call the public HTTP APIs exactly
as any other client does: no business logic lives here, and nothing here imports a role.

May import: ``litestar``, the standard library. Must never import: ``issuers``,
``verifiers``, ``wallet``, ``app``. Tests: ``tests/web`` (a real Chromium).
"""
