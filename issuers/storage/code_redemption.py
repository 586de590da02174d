"""Redeeming an authorization code in one step (RFC 6749 §4.1.3; OpenID4VCI 1.0 §6): the
single-use values of the token request (its DPoP proof's and its attestation PoP's
``jti``) used up, the authorization moved from ``code_issued`` to ``redeemed`` by one
compare-and-set on everything the code must match, its offer redeemed with the access
grant, and the first refresh token kept.

On PostgreSQL that is one statement (each step a ``WITH`` member that acts only on the rows
the one before returned), so one round trip; elsewhere the same steps in one transaction.
Either way every value seen first stays used up even when the exchange does not happen, as
when each was used up on its own before it.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import bindparam, insert, update

from core.storage.single_use import pg_first_uses
from issuers.domain import AuthorizationState, OfferState, RefreshState
from issuers.storage.tables import AUTHORIZATIONS, GRANTS, OFFERS, REFRESH_TOKENS

#: Parameters of ``pg_redeem_code`` before those of the single-use values.
PG_PARAMETERS = 17


@cache
def pg_redeem_code(spend: int) -> str:
    """The statement for ``spend`` single-use values. Parameters: $1 the code's hash, $2 the
    agency, $3 now, $4 the client, $5 the redirect URI, $6 the PKCE challenge of the
    verifier, $7 the DPoP key, $8 and $9 the access grant's token hash and end, $10 to $12
    the refresh token's hash, family and end (NULL: none), $13 to $17 the states
    (``code_issued``, ``redeemed``; offer ``offered``, ``redeemed``; refresh ``active``),
    then the single-use values'. One row: the hashes of the values seen first, whether the
    offer was redeemed and the refresh token kept, and the authorization as moved (NULL
    columns when none matched)."""
    spent = f"spent AS ({pg_first_uses(spend, PG_PARAMETERS + 1, 3)}), " if spend else ""
    all_spent = f" AND (SELECT count(*) FROM spent) = {spend}" if spend else ""  # noqa: S608
    first_uses = "ARRAY(SELECT value_hash FROM spent)" if spend else "ARRAY[]::varchar[]"
    return (
        f"WITH {spent}moved AS ("  # noqa: S608
        " UPDATE issuer_authorizations SET state = $14"
        " WHERE code_hash = $1 AND issuer_id = $2 AND state = $13 AND expires_at > $3"
        " AND client_id = $4::varchar AND redirect_uri = $5::varchar"
        " AND code_challenge = $6::varchar"
        " AND (dpop_jkt IS NULL OR dpop_jkt = $7::varchar) AND offer_id IS NOT NULL"
        f"{all_spent} RETURNING *"
        "), redeemed AS ("
        " UPDATE issuer_offers SET state = $16, redeemed_at = $3"
        " WHERE offer_id = (SELECT offer_id FROM moved) AND issuer_id = $2 AND state = $15"
        " AND expires_at > $3 AND tx_code_hash IS NULL RETURNING offer_id, issuer_id"
        "), granted AS ("
        " INSERT INTO issuer_access_grants"
        " (token_hash, offer_id, issuer_id, expires_at, used, dpop_jkt)"
        " SELECT $8, offer_id, issuer_id, $9, false, $7 FROM redeemed"
        "), refreshed AS ("
        " INSERT INTO issuer_refresh_tokens (token_hash, family_id, issuer_id,"
        " configuration_id, subject_id, client_id, dpop_jkt, state, created_at, expires_at)"
        " SELECT $10::varchar, $11::varchar, moved.issuer_id,"
        " moved.configuration_ids::json ->> 0, moved.subject_id, moved.client_id, $7, $17,"
        " $3, $12::double precision FROM moved JOIN redeemed ON true"
        " WHERE $10::varchar IS NOT NULL AND moved.subject_id IS NOT NULL RETURNING 1"
        f") SELECT {first_uses} AS first_uses,"
        " EXISTS (SELECT FROM redeemed) AS offer_redeemed,"
        " EXISTS (SELECT FROM refreshed) AS refresh_token_kept, moved.*"
        " FROM (VALUES (1)) AS one (x) LEFT JOIN moved ON true"
    )


def pg_state_parameters() -> tuple[str, str, str, str, str]:
    """$13 to $17 of ``pg_redeem_code``."""
    return (
        AuthorizationState.CODE_ISSUED.value,
        AuthorizationState.REDEEMED.value,
        OfferState.OFFERED.value,
        OfferState.REDEEMED.value,
        RefreshState.ACTIVE.value,
    )


#: The same steps as Core statements, for one transaction.
MOVE_CODE = (
    update(AUTHORIZATIONS)
    .where(
        AUTHORIZATIONS.c.code_hash == bindparam("code"),
        AUTHORIZATIONS.c.issuer_id == bindparam("issuer"),
        AUTHORIZATIONS.c.state == AuthorizationState.CODE_ISSUED.value,
        AUTHORIZATIONS.c.expires_at > bindparam("now"),
        AUTHORIZATIONS.c.client_id == bindparam("client"),
        AUTHORIZATIONS.c.redirect_uri == bindparam("redirect"),
        AUTHORIZATIONS.c.code_challenge == bindparam("challenge"),
        AUTHORIZATIONS.c.dpop_jkt.is_(None) | (AUTHORIZATIONS.c.dpop_jkt == bindparam("jkt")),
        AUTHORIZATIONS.c.offer_id.is_not(None),
    )
    .values(state=AuthorizationState.REDEEMED.value)
    .returning(*AUTHORIZATIONS.c)
)
REDEEM_OFFER = (
    update(OFFERS)
    .where(
        OFFERS.c.offer_id == bindparam("offer"),
        OFFERS.c.issuer_id == bindparam("issuer"),
        OFFERS.c.state == OfferState.OFFERED.value,
        OFFERS.c.expires_at > bindparam("now"),
        OFFERS.c.tx_code_hash.is_(None),
    )
    .values(state=OfferState.REDEEMED.value, redeemed_at=bindparam("now"))
)
INSERT_GRANT = insert(GRANTS)
INSERT_REFRESH_TOKEN = insert(REFRESH_TOKENS)
