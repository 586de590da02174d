"""Agencies' OpenID4VCI 1.0 credential issuer (multi-tenant: ``/issuers/{issuer_id}``).

Layers: ``api`` → ``services`` → ``domain``/``ports``; ``storage`` is imported only by ``app``.
May import: ``core``. Must never import: ``verifiers``, ``wallet``, ``app``.
Tests: ``tests/issuers``.
"""
