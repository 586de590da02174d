"""The screens people see: an agency desk, a service counter's screen and the citizen web
wallet. Static pages and scripts that call the public HTTP APIs exactly
as any other client does: no business logic lives here, and nothing here imports a role.
Also the API documentation page (``api_docs``), Swagger UI from a packaged copy.

May import: ``litestar``, ``swagger_ui_bundle`` (for the location of its files), the
standard library. Must never import: ``issuers``,
``verifiers``, ``wallet``, ``app``. Tests: ``tests/web`` (a real Chromium).
"""
