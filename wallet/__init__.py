"""Citizens' wallet store and mobile-facing API; an OpenID4VCI and OpenID4VP client.

Layers: ``api`` → ``services`` → ``domain``/``ports``; ``storage`` is imported only by ``app``.
May import: ``core``. Must never import: ``issuers``, ``verifiers``, ``app``.
Tests: ``tests/wallet``.
"""
