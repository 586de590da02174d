"""A wallet fetches an offer by reference (OpenID4VCI 1.0 §4.1.3). It may do so more than
once before redeeming; after redemption or expiry the reference is gone."""

from __future__ import annotations

from core.oid4vci import CredentialOffer
from issuers.domain import OfferState
from issuers.services.context import IssuerContext
from issuers.services.create_offer import credential_offer_document


class OfferGone(LookupError):
    """Unknown, redeemed or expired: the same answer for all three."""


async def offer_by_reference(
    context: IssuerContext, issuer_id: str, offer_id: str
) -> CredentialOffer:
    context.agency(issuer_id)
    if not 20 <= len(offer_id) <= 64:
        raise OfferGone(offer_id)
    offer = await context.offers.get(issuer_id, offer_id)
    if offer is None or offer.effective_state(context.clock.now()) is not OfferState.OFFERED:
        raise OfferGone(offer_id)
    return credential_offer_document(context, offer)
