"""An agency clerk offers a credential to a citizen (OpenID4VCI 1.0 §4.1, pre-authorized
code flow of §3.5): the citizen's data is checked against the configuration, and the offer
is returned by value and by reference, with a transaction code when asked for."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from msgspec import UNSET

from core.audit.trail import AuditEntry
from core.identifiers import checked_identifier
from core.messages import to_plain
from core.oauth import AUTHORIZATION_CODE_GRANT, PRE_AUTHORIZED_GRANT
from core.oid4vci import (
    AuthorizationCodeGrant,
    CredentialOffer,
    Grants,
    PreAuthorizedCodeGrant,
    TxCode,
)
from issuers.domain import Agency, AuditEvent, CredentialConfiguration, Offer, OfferState
from issuers.services.codes import (
    issuer_state,
    new_tx_code,
    pre_authorized_code,
    random_token,
    sha256_hex,
    tx_code_hash,
)
from issuers.services.context import IssuerContext
from issuers.services.subject_claims import check_subject_claims

OFFER_SCHEME = "openid-credential-offer://"
MAX_SUBJECT_ID = 200


class TooManyPendingOffers(Exception):
    """The agency's pending offers are at their cap."""


@dataclass(frozen=True, slots=True)
class CreatedOffer:
    offer: Offer
    credential_offer: CredentialOffer
    credential_offer_uri: str
    offer_uri: str  # what the QR code carries: by reference, so it stays small
    offer_uri_by_value: str
    tx_code: str | None


def offer_reference_url(agency: Agency, base_url: str, offer_id: str) -> str:
    return f"{agency.identifier(base_url)}/credential-offers/{offer_id}"


def offer_uri(agency: Agency, base_url: str, offer_id: str) -> str:
    """What the QR code carries: the offer by reference (§4.1.3), so it stays small."""
    reference = offer_reference_url(agency, base_url, offer_id)
    return f"{OFFER_SCHEME}?credential_offer_uri={quote(reference, safe='')}"


def credential_offer_document(context: IssuerContext, offer: Offer) -> CredentialOffer:
    """§4.1.1: the Credential Offer; the pre-authorized code is derived again, never stored."""
    agency = context.agency(offer.issuer_id)
    tx_code = (
        UNSET
        if offer.tx_code_hash is None
        else TxCode(
            input_mode="numeric",
            length=context.policy.tx_code_length,
            description="Enter the code the agency sent you separately (letter or SMS).",
        )
    )
    return CredentialOffer(
        credential_issuer=agency.identifier(context.public_base_url),
        credential_configuration_ids=list(offer.configuration_ids),
        grants=Grants(
            authorization_code=AuthorizationCodeGrant(
                issuer_state=issuer_state(context.secret, offer.offer_id)
            )
        )
        if offer.grant_type == AUTHORIZATION_CODE_GRANT
        else Grants(
            pre_authorized_code=PreAuthorizedCodeGrant(
                pre_authorized_code=pre_authorized_code(context.secret, offer.offer_id),
                tx_code=tx_code,
            )
        ),
    )


def _other_configurations(
    context: IssuerContext,
    issuer_id: str,
    configuration: CredentialConfiguration,
    requested: Sequence[str],
) -> tuple[str, ...]:
    others = tuple(dict.fromkeys(requested))
    for other_id in others:
        other = context.configuration(issuer_id, other_id)
        if other.id == configuration.id or other.record_id != configuration.record_id:
            raise ValueError(
                f"{other_id} is not the same credential in another format: it is made from "
                "another record"
            )
        if other.approval_required or configuration.approval_required:
            raise ValueError("an offer of several formats cannot wait for a clerk's approval")
    return others


async def create_offer(
    context: IssuerContext,
    issuer_id: str,
    *,
    configuration_id: str,
    subject_id: str,
    claims: object,
    with_tx_code: bool,
    grant_type: str = PRE_AUTHORIZED_GRANT,
    actor: str = "operator",
    other_configurations: Sequence[str] = (),
    register_read_at: float | None = None,
) -> CreatedOffer:
    """``grant_type``: the pre-authorized code (the QR code is enough), or the
    authorization code (the citizen authenticates online; the offer's ``issuer_state``
    ties the authorization to this citizen and credential).

    Raises ``UnknownAgency``, ``UnknownConfiguration``, ``InvalidSubjectClaims``,
    ``ValueError`` (subject id, a transaction code with the authorization code grant, or
    ``other_configurations`` that are not the same credential in other formats) or
    ``TooManyPendingOffers``.

    ``other_configurations``: offered in the same QR code, made from the same record (the
    national ID as SD-JWT VC and as mdoc); one access token asks for each once
    (pre-authorized code only). ``register_read_at``: the claims were read from the
    agency's register for this offer then (``offer_from_desk``), not typed in."""
    if grant_type not in (PRE_AUTHORIZED_GRANT, AUTHORIZATION_CODE_GRANT):
        raise ValueError("the grant is the pre-authorized code or the authorization code")
    if with_tx_code and grant_type == AUTHORIZATION_CODE_GRANT:
        raise ValueError("a transaction code goes with the pre-authorized code grant only")
    agency = context.agency(issuer_id)
    configuration = context.configuration(issuer_id, configuration_id)
    subject_id = checked_identifier(subject_id, what="subject_id", max_length=MAX_SUBJECT_ID)
    # an mdoc's offer holds the record its elements are made from
    checked = check_subject_claims(
        context.configuration(issuer_id, configuration.record_id), claims
    )
    others = _other_configurations(context, issuer_id, configuration, other_configurations)
    if others and grant_type != PRE_AUTHORIZED_GRANT:
        raise ValueError("an offer of several formats goes with the pre-authorized code grant")
    now = context.clock.now()
    offer_id = random_token()
    tx_code = new_tx_code(context.policy.tx_code_length) if with_tx_code else None
    offer = Offer(
        offer_id=offer_id,
        issuer_id=issuer_id,
        configuration_id=configuration_id,
        subject_id=subject_id,
        claims=checked,
        code_hash=sha256_hex(pre_authorized_code(context.secret, offer_id)),
        tx_code_hash=tx_code_hash(context.secret, offer_id, tx_code) if tx_code else None,
        tx_code_attempts=0,
        tx_code_max_attempts=context.policy.tx_code_max_attempts,
        state=OfferState.OFFERED,
        created_at=now,
        expires_at=now + context.policy.offer_lifetime,
        grant_type=grant_type,
        other_configurations=others,
        register_read_at=register_read_at,
    )
    offers = context.offers
    if not await context.pending_offers.admit(
        issuer_id, now, lambda limit: offers.count_pending(issuer_id, now, limit)
    ):
        raise TooManyPendingOffers(
            f"the agency has {context.pending_offers.cap} offers waiting to be redeemed"
            "; they are redeemed or expire within minutes"
        )
    await offers.add(offer)
    await context.audit.record(
        AuditEvent(
            issuer_id=issuer_id,
            at=now,
            actor=actor,
            action="offer.create",
            object_id=offer_id,
            outcome="created",
            detail=f"{configuration_id} for subject {subject_id}"
            + (" with tx_code" if tx_code else "")
            + (" by online authorization" if grant_type == AUTHORIZATION_CODE_GRANT else "")
            + (" from the register" if register_read_at is not None else ""),
        )
    )
    await context.audit_trail.append(
        AuditEntry(
            "operator",
            issuer_id,
            "offer.created",
            facts={"credential_configuration": configuration_id},
        )
    )
    document = credential_offer_document(context, offer)
    reference = offer_reference_url(agency, context.public_base_url, offer_id)
    compact = json.dumps(to_plain(document), separators=(",", ":"))
    return CreatedOffer(
        offer=offer,
        credential_offer=document,
        credential_offer_uri=reference,
        offer_uri=offer_uri(agency, context.public_base_url, offer_id),
        offer_uri_by_value=f"{OFFER_SCHEME}?credential_offer={quote(compact, safe='')}",
        tx_code=tx_code,
    )
