"""What the issuer role needs from the outside, as small protocols."""

from __future__ import annotations

from typing import Protocol

from core.keys.signer import Signer


class IssuerKeys(Protocol):
    """Each agency's signing key, certified under the deployment trust anchor."""

    async def signer(self, issuer_id: str) -> Signer:
        """The agency's active signer; its ``x5c`` is the access certificate chain."""
        ...

    async def jwks(self, issuer_id: str) -> list[dict[str, str]]:
        """Public JWKs of the agency's keys, current and retired."""
        ...
