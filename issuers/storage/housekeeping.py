"""What the issuer forgets once it has no use for it, run by the deployment's housekeeping:

- offers that expired unredeemed (``expired``, a state read from the time and never
  stored) are deleted, their claims with them;
- redeemed offers keep their row (state for the single-use rules, history for the desk)
  but their claims are redacted once no live access token can still use them;
- access tokens, used ``c_nonce`` values, kept credential responses and refresh tokens
  are deleted once expired (a refresh token's family expires as one);
- applications for credentials a clerk approves first are deleted once past their deadline
  (a delivered one once its window for a repeated request has closed); a refused or
  delivered one has forgotten its claims and holder keys already.

Each is one statement whose condition uses an index, so a pass costs what there is to
forget, not what the tables hold.
"""

from __future__ import annotations

from sqlalchemy import and_, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from issuers.domain import OfferState
from issuers.storage.offer_claims import REDACTED, UNREDACTED_OFFERS
from issuers.storage.tables import (
    APPLICATIONS,
    GRANT_USES,
    GRANTS,
    OFFERS,
    RESPONSES,
    AuthorizationRow,
    NonceRow,
    RefreshTokenRow,
)

_LIVE_GRANT = exists(
    select(GRANTS.c.token_hash).where(
        GRANTS.c.offer_id == OFFERS.c.offer_id,
        GRANTS.c.used.is_(False),
    )
)


class SqlIssuerHousekeeping:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def forget_ended(self, now: float) -> int:
        """One pass; how many rows were deleted or redacted."""
        async with self._engine.begin() as connection:
            changed = 0
            for statement in (
                delete(GRANTS).where(GRANTS.c.expires_at <= now),
                delete(GRANT_USES).where(GRANT_USES.c.expires_at <= now),
                delete(OFFERS).where(
                    UNREDACTED_OFFERS,
                    OFFERS.c.state == OfferState.OFFERED.value,
                    OFFERS.c.expires_at <= now,
                ),
                update(OFFERS)
                .where(
                    and_(
                        UNREDACTED_OFFERS,
                        OFFERS.c.state == OfferState.REDEEMED.value,
                        ~_LIVE_GRANT,
                    )
                )
                .values(claims=REDACTED),
                delete(RESPONSES).where(RESPONSES.c.expires_at <= now),
                delete(NonceRow).where(NonceRow.expires_at <= now),
                delete(AuthorizationRow).where(AuthorizationRow.expires_at <= now),
                delete(RefreshTokenRow).where(RefreshTokenRow.expires_at <= now),
                delete(APPLICATIONS).where(APPLICATIONS.c.expires_at <= now),
            ):
                result = await connection.execute(statement)
                changed += max(result.rowcount, 0)
        return changed
