"""A pending offer's claims at rest: the citizen's data the agency put into the offer,
sealed (``core.sealing``) under a key derived from the deployment's key-encryption key,
bound to the offer's id. Once the offer has ended (expired, or redeemed with no live
access token left to use it) the claims are redacted: the row keeps its state for the
single-use rules and the desk, and no personal data.

Rows written before offers were sealed hold plain JSON; they are read as such and
redacted like the rest once their offer ends.

The same key seals other records of the citizen's data the agency keeps for a while
(an application waiting for a clerk), each kind under a context of its own
(``for_kind``), so that no sealed value opens as another kind or for another row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from core.encoding import StrictJsonError, json_dumps_bytes, strict_json_object
from core.sealing import Sealer, SealError

#: What an ended offer's claims column holds.
REDACTED = ""
#: Offers that still hold claims, written as a literal so that the partial index of
#: unredacted offers applies (SQLite matches a partial index's condition only against
#: literals, not parameters).
UNREDACTED_OFFERS = text("issuer_offers.claims <> ''")
MAX_CLAIMS_BYTES = 1024 * 1024


class UnreadableClaims(ValueError):
    """Sealed claims that do not open with this deployment's key."""


class SealedClaims:
    def __init__(self, sealer: Sealer, kind: str = "offer claims") -> None:
        self._sealer = sealer
        self._kind = kind

    def for_kind(self, kind: str) -> SealedClaims:
        """Records of another kind, under the same key."""
        return SealedClaims(self._sealer, kind)

    def _context(self, record_id: str) -> str:
        return f"idwallet issuer/{self._kind}/{record_id}"

    def seal(self, record_id: str, claims: dict[str, Any]) -> str:
        return self._sealer.seal_text(json_dumps_bytes(claims), self._context(record_id))

    def open(self, record_id: str, stored: str) -> dict[str, Any]:
        """The claims, ``{}`` for a redacted record."""
        if stored == REDACTED:
            return {}
        try:
            if stored.startswith("{"):  # written before offers were sealed
                return strict_json_object(stored, max_bytes=MAX_CLAIMS_BYTES)
            return strict_json_object(
                self._sealer.open_text(stored, self._context(record_id)),
                max_bytes=MAX_CLAIMS_BYTES,
            )
        except (SealError, StrictJsonError) as exc:
            raise UnreadableClaims(record_id) from exc
