"""The deployment as registrar of its relying parties: registration attestations signed
with the trust anchor's key (where this deployment holds it), one per relying party,
re-signed when less than an hour of its day is left."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.bootstrap import TrustAnchor
from core.clock import SYSTEM_CLOCK, Clock
from core.jose.jws import sign_compact

REGISTRATION_TYP = "verifier-registration+jwt"
RENEW_BEFORE = 3600


class DeploymentRegistrar:
    def __init__(self, anchor: TrustAnchor, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._signer = anchor.signer
        self._signed: dict[tuple[str, str], tuple[int, str]] = {}

    async def attest(
        self, verifier_id: str, client_id: str, claims: Callable[[int], dict[str, Any]]
    ) -> str | None:
        if self._signer is None:
            return None
        now = int(self._clock.now())
        cached = self._signed.get((verifier_id, client_id))
        if cached is not None and cached[0] - now > RENEW_BEFORE:
            return cached[1]
        payload = claims(now)
        token = sign_compact(payload, self._signer, typ=REGISTRATION_TYP)
        self._signed[(verifier_id, client_id)] = (int(payload["exp"]), token)
        return token
