"""Keys: the ``Signer``/``KeyProvider``/``KeyResolver`` protocols, the software key
provider (private keys wrapped at rest by a key-encryption key), and X.509 helpers for
the deployment trust anchor and the access certificates of issuers and verifiers.

Modules: ``signer``, ``wrapping``, ``provider``, ``x509``. Tests: ``tests/core/keys``.
"""
