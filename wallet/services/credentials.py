"""The citizen's credentials: listed and shown with the issuer's display data in the
citizen's language, the decoded claims and their live status (Token Status List §8.3:
fetched through the guarded client, cached for the list's ``ttl``, its signature checked
against the wallet's trust anchors and the certificate naming the credential's issuer).
Deleting is durable and tells the issuer (``credential_deleted``, OpenID4VCI 1.0 §11)
where it asked to be told."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from msgspec import UNSET

from core.http.client import OutboundFailed, OutboundRefused
from core.jose.algorithms import PublicKey
from core.sdjwt_vc.issuer_keys import IssuerKeyError
from core.status_list.bits import StatusListError
from core.status_list.token import StatusReference, verify_status_list_token
from wallet.domain import (
    MSO_MDOC,
    CredentialListing,
    CredentialRecord,
    NotFound,
    StoredCredential,
)
from wallet.services.activity import record, stamp
from wallet.services.activity_messages import CredentialDeletedEntry
from wallet.services.context import WalletContext
from wallet.services.credential_records import open_listing, open_record, seal_listing
from wallet.services.display import label_for, pick
from wallet.services.holding_messages import (
    ClaimRow,
    CredentialDeleted,
    CredentialDetails,
    CredentialIssuer,
    CredentialList,
    CredentialSummary,
)
from wallet.services.notify_issuer import notify_issuer
from wallet.services.sealing import AccountBox
from wallet.services.status_watch_index import unwatch_credential

log = logging.getLogger("idwallet.wallet")
STATUS_NAMES = {0: "valid", 1: "revoked", 2: "suspended"}
MAX_CACHED_LISTS = 256


class StatusReader:
    """Live status of many credentials in one go: each status list fetched once."""

    def __init__(self, context: WalletContext) -> None:
        self._context = context
        self._lists: dict[str, Any] = {}

    async def _list(self, uri: str, issuer: str) -> Any:
        if uri in self._lists:
            return self._lists[uri]
        context = self._context
        try:
            token = await context.documents.fetch(uri)

            def key(header: Mapping[str, Any]) -> PublicKey:
                return context.issuer_trust.resolve_now(header, {"iss": issuer}).key

            cache_key = (uri, hashlib.sha256(token.encode("ascii")).hexdigest())
            verified: Any = context.verified_status_lists.get(cache_key)
            if verified is None or (
                verified.expires_at is not None and verified.expires_at < context.clock.now()
            ):
                verified = verify_status_list_token(
                    token, key, expected_uri=uri, now=context.clock.now()
                )
                if len(context.verified_status_lists) > MAX_CACHED_LISTS:
                    context.verified_status_lists.clear()
                context.verified_status_lists[cache_key] = verified
            # the signer's certificate must name this credential's issuer, cached or not
            context.issuer_trust.resolve_now(verified.header, {"iss": issuer})
        except (OutboundFailed, OutboundRefused, StatusListError, IssuerKeyError) as exc:
            log.info("status list unavailable: %s", type(exc).__name__)
            verified = None
        self._lists[uri] = verified
        return verified

    async def status(self, credential: CredentialListing) -> str:
        if credential.expires_at is not None and credential.expires_at < self._context.clock.now():
            return "expired"
        worst = "valid"
        for status in credential.statuses:
            reference = StatusReference(int(status["idx"]), str(status["uri"]))
            status_list = await self._list(reference.uri, credential.issuer)
            if status_list is None:
                return "unknown"
            try:
                value = status_list.status_of(reference)
            except StatusListError:
                return "unknown"
            name = STATUS_NAMES.get(value, "invalid")
            if name == "revoked" or (name != "valid" and worst == "valid"):
                worst = name
        return worst


def _summary_fields(
    context: WalletContext,
    stored: StoredCredential,
    credential: CredentialListing,
    preferred: Sequence[str],
    status: str,
) -> dict[str, Any]:
    one_time = credential.use_policy == "one_time"
    display = pick(credential.credential_display, preferred) or {}
    issuer = pick(credential.issuer_display, preferred) or {}
    return {
        "credential_id": stored.credential_id,
        "name": display.get("name", credential.configuration_id),
        "display": display,
        "issuer": CredentialIssuer(
            credential_issuer=credential.issuer,
            name=issuer.get("name", credential.issuer),
            display=issuer,
        ),
        "format": credential.format,
        "vct": credential.vct or None,
        "doctype": UNSET if credential.doctype is None else credential.doctype,
        "status": status,
        "instances": credential.instances,
        "received_at": int(credential.received_at),
        "expires_at": credential.expires_at,
        "use_policy": credential.use_policy,
        "fresh_instances": credential.fresh_instances(stored.presentations) if one_time else UNSET,
        "renewed_by": ("phone" if credential.renewed_by_phone else "wallet_service")
        if one_time
        else UNSET,
        "holder_keys_needed": (
            1 if credential.renewal_instances is None else credential.renewal_instances
        )
        if one_time and credential.renewed_by_phone
        else UNSET,
        "renewal_due": stored.presentations
        >= credential.renewal_due_from(context.policy.renew_below)
        if one_time
        else UNSET,
    }


async def list_credentials(
    context: WalletContext, account_id: str, preferred: Sequence[str]
) -> CredentialList:
    box = await context.box(account_id)
    reader = StatusReader(context)
    result = []
    for stored in await context.store.credentials.listings(account_id):
        listing = await _listing(context, box, stored)
        status = await reader.status(listing)
        result.append(
            CredentialSummary(**_summary_fields(context, stored, listing, preferred, status))
        )
    return CredentialList(credentials=result)


async def _listing(
    context: WalletContext, box: AccountBox, stored: StoredCredential
) -> CredentialListing:
    """The credential's sealed listing; for a record stored before listings were kept,
    the listing derived from the record, and kept for the next time."""
    if stored.sealed_listing is not None:
        return open_listing(box, stored.credential_id, stored.sealed_listing)
    listing = open_record(box, stored).listing()
    await context.store.credentials.keep_listing(
        box.account_id, stored.credential_id, seal_listing(box, stored.credential_id, listing)
    )
    return listing


def _claim_rows(credential: CredentialRecord, preferred: Sequence[str]) -> list[ClaimRow]:
    """One row per claim, labelled as the issuer's metadata names its path: ``[name]`` for
    an SD-JWT VC's claims, ``[namespace, element]`` for an mdoc's elements (OpenID4VCI 1.0
    Appendix A.2.2)."""
    labels = credential.claim_display
    paths: list[tuple[list[str | int | None], Any]]
    if credential.format == MSO_MDOC:
        paths = [
            ([namespace, element], value)
            for namespace, elements in credential.claims.items()
            if isinstance(elements, Mapping)
            for element, value in elements.items()
        ]
    else:
        paths = [([name], value) for name, value in credential.claims.items()]
    return [
        ClaimRow(path=path, label=label_for(labels, path, preferred), value=value)
        for path, value in paths
    ]


async def show_credential(
    context: WalletContext, account_id: str, credential_id: str, preferred: Sequence[str]
) -> CredentialDetails:
    stored = await context.store.credentials.get(account_id, credential_id)
    if stored is None:
        raise NotFound("no such credential")
    box = await context.box(account_id)
    credential = open_record(box, stored)
    listing = credential.listing()
    status = await StatusReader(context).status(listing)
    return CredentialDetails(
        **_summary_fields(context, stored, listing, preferred, status),
        claims=credential.claims,
        claim_labels=_claim_rows(credential, preferred),
        presentations=stored.presentations,
    )


async def delete_credential(
    context: WalletContext, account_id: str, credential_id: str
) -> CredentialDeleted:
    stored = await context.store.credentials.get(account_id, credential_id)
    if stored is None:
        raise NotFound("no such credential")
    box = await context.box(account_id)
    credential = open_record(box, stored)
    if not await context.store.credentials.delete(account_id, credential_id):
        raise NotFound("no such credential")
    await unwatch_credential(context, account_id, credential_id)
    notified = False
    if credential.notification is not None:
        notified = await notify_issuer(
            context,
            credential.notification["endpoint"],
            credential.notification["id"],
            "credential_deleted",
            access_token=credential.notification["access_token"],
        )
    await record(
        context,
        box,
        CredentialDeletedEntry(
            **stamp(context),
            credential_id=credential_id,
            issuer=credential.issuer,
            credential=(pick(credential.credential_display, []) or {}).get(
                "name", credential.configuration_id
            ),
            issuer_notified=notified,
        ),
    )
    return CredentialDeleted(credential_id=credential_id, deleted=True, issuer_notified=notified)
