"""The issuers a citizen can ask for a credential (``POST /wallet/issuances``): this
deployment's own agencies and the issuers it is configured with, each with its display
data and the credentials it describes that this wallet can hold, in the citizen's
language (OpenID4VCI 1.0 §12.2.4 ``display``, sanitized as every display is).

Each issuer's metadata is read at its well-known location through the guarded outbound
client (§12.2.2; its ``credential_issuer`` must be the identifier, §12.2.4) and kept for
``LISTING_LIFETIME`` seconds per language, so a screen opened often asks the issuers
rarely. An issuer that cannot be read is listed as unavailable."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from msgspec import UnsetType

from core.errors import ProtocolError
from core.messages import convert_message
from core.oid4vci_metadata import CredentialIssuerMetadata
from wallet.services.context import WalletContext
from wallet.services.display import pick, safe_display
from wallet.services.holding_messages import IssuableCredential, IssuerList, KnownIssuer
from wallet.services.issuer_client import IssuerClient, well_known
from wallet.services.scan_offer import HELD_FORMATS, plain_list

#: Seconds an issuer's listing is reused.
LISTING_LIFETIME = 300.0
#: Listings a worker keeps at most (issuers × languages asked for).
MAX_LISTINGS = 1000


async def list_issuers(context: WalletContext, preferred: Sequence[str]) -> IssuerList:
    language = preferred[0] if preferred else ""
    listed = await asyncio.gather(
        *(_listing(context, issuer, language) for issuer in context.known_issuers)
    )
    return IssuerList(issuers=list(listed))


async def _listing(context: WalletContext, issuer: str, language: str) -> KnownIssuer:
    now = context.clock.now()
    kept = context.issuer_listings.get((issuer, language))
    if kept is not None and kept[0] > now and isinstance(kept[1], KnownIssuer):
        return kept[1]
    try:
        document = await IssuerClient(context.outbound).get_json(
            well_known(issuer, "openid-credential-issuer"),
            "issuer metadata",
            language=language or None,
        )
        metadata = convert_message(document, CredentialIssuerMetadata)
        if metadata.credential_issuer != issuer:
            raise ProtocolError("the issuer metadata names another issuer")
    except ProtocolError:
        # not kept: the next look asks again
        return KnownIssuer(
            credential_issuer=issuer, name=issuer, display={}, available=False, credentials=[]
        )
    listing = _known(context, issuer, metadata, [language] if language else [])
    if len(context.issuer_listings) >= MAX_LISTINGS:  # languages are the caller's to name
        context.issuer_listings.clear()
    context.issuer_listings[(issuer, language)] = (now + LISTING_LIFETIME, listing)
    return listing


def _known(
    context: WalletContext,
    issuer: str,
    metadata: CredentialIssuerMetadata,
    preferred: Sequence[str],
) -> KnownIssuer:
    batch = metadata.batch_credential_issuance
    instances = (
        1 if isinstance(batch, UnsetType) else min(batch.batch_size, context.policy.batch_size)
    )
    credentials = []
    for config_id, config in metadata.credential_configurations_supported.items():
        if config.format not in HELD_FORMATS:
            continue
        described = config.credential_metadata
        display = (
            pick(
                safe_display(
                    plain_list(None if isinstance(described, UnsetType) else described.display)
                ),
                preferred,
            )
            or {}
        )
        credentials.append(
            IssuableCredential(
                credential_configuration_id=config_id,
                name=display.get("name", config_id),
                display=display,
                holder_keys_needed=instances,
                format=config.format,
            )
        )
    display = pick(safe_display(plain_list(metadata.display)), preferred) or {}
    return KnownIssuer(
        credential_issuer=issuer,
        name=display.get("name", issuer),
        display=display,
        available=True,
        credentials=credentials,
    )
