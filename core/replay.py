"""Values that may be used once: a DPoP proof's ``jti`` (RFC 9449 §11.1), a client
attestation PoP's ``jti`` (OAuth attestation-based client authentication), anything a
sender must not be able to replay within the time it is accepted.

``core`` only states what is asked of the record (``SeenOnce``); the deployment's storage
answers it with one statement that any number of workers can race on.
"""

from __future__ import annotations

from typing import Protocol


class SeenOnce(Protocol):
    async def first_use(self, scope: str, value: str, keep_until: float) -> bool:
        """True the first time ``value`` is seen in ``scope`` (it is then remembered until
        ``keep_until``, seconds since the epoch); False for every later use, whichever
        worker saw the first."""
        ...
