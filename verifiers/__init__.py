"""Service counters' OpenID4VP 1.0 verifier (multi-tenant: ``/verifiers/{verifier_id}``).

Layers: ``api`` → ``services`` → ``domain``/``ports``; ``storage`` is imported only by ``app``.
May import: ``core``. Must never import: ``issuers``, ``wallet``, ``app``.
Tests: ``tests/verifiers``.
"""
