"""One-time credentials (OpenID4VP 1.0 §14.1 / SD-JWT §10.1: presentations of one
instance can be linked, so each instance is shown once) and how their fresh batches are
kept (OpenID4VCI 1.0 §6.1 with RFC 6749 §6: the refresh token asks without the citizen).

A credential is one-time where its issuer gave a refresh token for one configuration. Who
asks for a fresh batch depends on who holds the keys: the housekeeping does, for keys this
service holds (``renew_credential``); where the holder keys are on the phone, only the
phone can sign the new proofs, so the credential is listed ``renewal_due`` and the phone
asks (``renew_on_phone``). Either way the fresh batch joins the instances not yet shown,
the shown ones dropped, by one compare-and-set on the presentation count, and the rotated
refresh token is kept with the credential as soon as the issuer hands it out: a token
exchanged once is dead (RFC 9700 §4.14.2), so losing its successor would end the renewals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import msgspec

from wallet.domain import CredentialRecord, StoredCredential
from wallet.services.context import WalletContext
from wallet.services.credential_records import open_record, seal_listing, seal_record
from wallet.services.offer_flow import OfferFlow
from wallet.services.sealing import AccountBox
from wallet.services.status_watch_index import watch_stored_credential

#: Compare-and-set attempts before a change to a credential shown meanwhile gives up.
_ATTEMPTS = 5


def renewable(flow: OfferFlow) -> bool:
    """One-time use needs fresh batches: an issuer that gave a refresh token for one
    configuration (so no two credentials share it), in the authorization code flow."""
    return (
        flow.refresh_token is not None
        and flow.authorization is not None
        and len(flow.configurations) == 1
    )


def renewal_of(flow: OfferFlow, configuration_id: str) -> dict[str, Any]:
    """What a fresh batch takes, kept sealed with the credential: the flow without what
    was only for this issuance (its requests, keys, deferrals, round, and the proofs the
    phone signed for it)."""
    plan = flow.authorization
    kept = msgspec.structs.replace(
        flow,
        authorization=None
        if plan is None
        else msgspec.structs.replace(plan, code=None, presigned={}),
        requests=[],
        keys=[],
        deferred=[],
        pre_authorized_code=None,
        round=None,
        renews=None,
    )
    return kept.content()


def renew_from(context: WalletContext, record: CredentialRecord) -> int | None:
    """The presentation count from which the housekeeping renews the credential (None:
    it does not; the phone does, or there is nothing to renew with)."""
    if record.renewal is None or record.renewed_by_phone:
        return None
    return record.renewal_due_from(context.policy.renew_below)


async def change_credential(
    context: WalletContext,
    box: AccountBox,
    credential_id: str,
    change: Callable[[StoredCredential, CredentialRecord], CredentialRecord],
) -> CredentialRecord | None:
    """The credential's record changed by ``change`` and sealed again, read afresh and
    changed again while presentations are made meanwhile; None when it is gone (deleted
    by the citizen) or keeps being shown."""
    for _ in range(_ATTEMPTS):
        stored = await context.store.credentials.get(box.account_id, credential_id)
        if stored is None:
            return None
        changed = change(stored, open_record(box, stored))
        if await context.store.credentials.replace(
            box.account_id,
            credential_id,
            seal_record(box, credential_id, changed),
            sealed_listing=seal_listing(box, credential_id, changed.listing()),
            expected_presentations=stored.presentations,
            renew_from=renew_from(context, changed),
        ):
            return changed
    return None


async def keep_refresh_token(
    context: WalletContext, box: AccountBox, credential_id: str, flow: OfferFlow
) -> None:
    """The renewal state (the rotated refresh token) kept with the credential as soon as
    it changed, before the fresh batch is asked for."""
    await change_credential(
        context,
        box,
        credential_id,
        lambda _, record: dataclasses.replace(
            record, renewal=renewal_of(flow, record.configuration_id)
        ),
    )


async def merge_fresh_batch(
    context: WalletContext,
    box: AccountBox,
    credential_id: str,
    flow: OfferFlow,
    fresh: CredentialRecord,
) -> CredentialRecord | None:
    """The fresh batch joined to the instances of the credential not yet shown (the shown
    ones dropped), with the register's claims as they are now; None when the credential
    is gone."""

    def merged(stored: StoredCredential, record: CredentialRecord) -> CredentialRecord:
        unshown = record.instances[
            len(record.instances) - record.fresh_instances(stored.presentations) :
        ]
        return dataclasses.replace(
            record,
            instances=unshown + fresh.instances,
            claims=fresh.claims,
            expires_at=fresh.expires_at,
            renewal=renewal_of(flow, record.configuration_id),
            shown_before=stored.presentations,
        )

    changed = await change_credential(context, box, credential_id, merged)
    if changed is not None:  # the fresh instances have status indices of their own
        await watch_stored_credential(context, box.account_id, credential_id, changed)
    return changed
