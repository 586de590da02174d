"""DPoP (RFC 9449): sender-constrained access tokens.

- ``proof``: checking a ``DPoP`` proof JWT (§4.3), the ``jkt`` it yields (§6.1) and the
  check of a presented token's binding (§7.1);
- ``nonces``: stateless server nonces for ``DPoP-Nonce`` (§8, §9);
- ``access_tokens``: the ``DPoP`` and ``Bearer`` schemes of ``Authorization`` (§7.1, §7.2);
- ``target_uri``: the normalised ``htu`` comparison (§4.3).

Framework-free: endpoints pass header values, the method and their public URI, and turn
the errors (``core.errors``) into answers as each error's docstring says.
"""

from core.dpop.access_tokens import (
    AccessTokenScheme,
    PresentedAccessToken,
    check_token_scheme,
    presented_access_token,
)
from core.dpop.nonces import DpopNonces
from core.dpop.proof import (
    DPOP_ALGORITHMS,
    DPOP_PROOF_TYPE,
    CheckedDpopProof,
    DpopPolicy,
    DpopProofVerifier,
    VerifiedDpopProof,
    access_token_hash,
)

__all__ = [
    "DPOP_ALGORITHMS",
    "DPOP_PROOF_TYPE",
    "AccessTokenScheme",
    "CheckedDpopProof",
    "DpopNonces",
    "DpopPolicy",
    "DpopProofVerifier",
    "PresentedAccessToken",
    "VerifiedDpopProof",
    "access_token_hash",
    "check_token_scheme",
    "presented_access_token",
]
