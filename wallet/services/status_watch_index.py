"""The watch index of the status-list watching (``watch_statuses``): what is written when a
credential is stored, renewed or deleted, so that the housekeeping finds the credentials
a status list's changes concern without opening any.

Design (what a reader of the database learns): the status lists themselves are public
documents, kept once for the deployment with their URI and issuer. Which list and index a
citizen's credential has is what links the citizen to the issuer's records, so the index
holds only a keyed hash of (list URI, index) per credential instance, HMAC-SHA-256 under a
key derived from the deployment's key-encryption key (never in the database): the
watching computes it for the indices whose status changed between two fetches of a list
and looks those up. Without the key, the hashes cannot be matched to any list or index,
even by someone who fetches every list; a list is not tied to any account. What is in the
clear: that an account holds a credential watched at so many indices, and the credential's
expiry time (to give the expiry notices without opening every credential each pass).

A list stays watched until the latest expiry of the credentials that referenced it (400
days on for credentials without one, renewed with them): nothing records which accounts
need which list, so nothing needs to be undone when a credential or an account goes; a
list nobody needs any more is fetched a few more times until then.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from wallet.domain import CredentialRecord
from wallet.services.context import WalletContext

log = logging.getLogger("idwallet.wallet")
#: How long a list referenced by a credential without ``exp`` stays watched.
NO_EXPIRY_HORIZON = 400 * 86400.0


def list_key(issuer: str, uri: str) -> str:
    return hashlib.sha256(f"{issuer}\0{uri}".encode()).hexdigest()


def watch_key(secret: bytes, uri: str, index: int) -> str:
    return hmac.new(secret, f"status watch\0{uri}\0{index}".encode(), hashlib.sha256).hexdigest()


def status_references(record: CredentialRecord) -> list[tuple[str, int]]:
    """(list URI, index) of each instance that has a status (Token Status List §6.2)."""
    found = []
    for instance in record.instances:
        status = instance.status
        if not status:
            continue
        uri, index = status.get("uri"), status.get("idx")
        if isinstance(uri, str) and isinstance(index, int) and not isinstance(index, bool):
            found.append((uri, index))
    return found


def first_expiry_notice(context: WalletContext, expires_at: float | None) -> float | None:
    if expires_at is None:
        return None
    return expires_at - context.policy.expiry_notice_days * 86400.0


async def watch_credential(
    context: WalletContext, account_id: str, credential_id: str, record: CredentialRecord
) -> None:
    """Index the credential's status references and expiry (replacing what was indexed
    for it before: a renewal's fresh instances have indices of their own)."""
    now = context.clock.now()
    references = status_references(record)
    expires_at = float(record.expires_at) if record.expires_at is not None else None
    needed_until = expires_at if expires_at is not None else now + NO_EXPIRY_HORIZON
    await context.store.status_watching.watch(
        account_id,
        credential_id,
        lists=sorted({(list_key(record.issuer, uri), uri, record.issuer) for uri, _ in references}),
        watch_keys=[watch_key(context.watch_secret, uri, index) for uri, index in references],
        expires_at=expires_at,
        due_at=first_expiry_notice(context, expires_at),
        needed_until=max(needed_until, now),
        now=now,
    )


async def watch_stored_credential(
    context: WalletContext, account_id: str, credential_id: str, record: CredentialRecord
) -> None:
    """``watch_credential`` where a credential was just stored or renewed: a failure does
    not fail the storing (the watching's next pass indexes what is not indexed yet)."""
    try:
        await watch_credential(context, account_id, credential_id, record)
    except Exception as exc:
        log.warning("credential %s not indexed yet: %s", credential_id, type(exc).__name__)


async def unwatch_credential(context: WalletContext, account_id: str, credential_id: str) -> None:
    await context.store.status_watching.unwatch(account_id, credential_id)
