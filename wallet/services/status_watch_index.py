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
clear: that an account holds a credential watched at so many indices, and the day the
credential expires (its ``exp`` rounded up to the day, to give the expiry notices without
opening every credential each pass). What the citizen was last told of a credential's
status is kept as a keyed hash too (``told_key``): the watching tells a credential's
change once, however many of its instances and lists changed.

A list stays watched until the latest expiry of the credentials that referenced it (400
days on for credentials without one; those are indexed again after half of that, so
their lists stay watched as long as they are held): nothing records which accounts need
which list, so nothing needs to be undone when a credential or an account goes; a list
nobody needs any more is fetched a few more times until then.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math

from wallet.domain import CredentialRecord
from wallet.services.context import WalletContext

log = logging.getLogger("idwallet.wallet")
#: How long a list referenced by a credential without ``exp`` stays watched.
NO_EXPIRY_HORIZON = 400 * 86400.0
#: A credential without ``exp`` is indexed again this long after it was indexed.
REINDEX_AFTER = NO_EXPIRY_HORIZON / 2
DAY = 86400.0
#: The credential statuses the citizen is told of (Token Status List §7.1).
VALID, REVOKED, SUSPENDED = 0, 1, 2
#: What was told is not known (watched before it was kept): the status found next is
#: recorded without telling it.
TOLD_UNKNOWN = "unknown"


def list_key(issuer: str, uri: str) -> str:
    return hashlib.sha256(f"{issuer}\0{uri}".encode()).hexdigest()


def watch_key(secret: bytes, uri: str, index: int) -> str:
    return hmac.new(secret, f"status watch\0{uri}\0{index}".encode(), hashlib.sha256).hexdigest()


def told_key(secret: bytes, credential_id: str, status: int) -> str | None:
    """What is kept of the status last told of a credential (None: valid)."""
    if status == VALID:
        return None
    return hmac.new(
        secret, f"status told\0{credential_id}\0{status}".encode(), hashlib.sha256
    ).hexdigest()


def told_status(secret: bytes, credential_id: str, told: str | None) -> int:
    """The status ``told_key`` kept (valid for a hash under no key of this deployment)."""
    for status in (REVOKED, SUSPENDED):
        if told is not None and hmac.compare_digest(
            told, told_key(secret, credential_id, status) or ""
        ):
            return status
    return VALID


def day_after(at: float) -> float:
    """``at`` rounded up to the day (UTC): what the index keeps of an expiry time."""
    return math.ceil(at / DAY) * DAY


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
    return expires_at - context.policy.expiry_notice_days * DAY


async def watch_credential(
    context: WalletContext, account_id: str, credential_id: str, record: CredentialRecord
) -> None:
    """Index the credential's status references and expiry (replacing what was indexed
    for it before: a renewal's fresh instances have indices of their own). The next pass
    of the watching looks at it against the lists as last fetched: a credential received
    already revoked or suspended is told of then."""
    now = context.clock.now()
    references = status_references(record)
    expires_at = day_after(float(record.expires_at)) if record.expires_at is not None else None
    needed_until = expires_at if expires_at is not None else now + NO_EXPIRY_HORIZON
    await context.store.status_watching.watch(
        account_id,
        credential_id,
        lists=sorted({(list_key(record.issuer, uri), uri, record.issuer) for uri, _ in references}),
        watch_keys=[watch_key(context.watch_secret, uri, index) for uri, index in references],
        expires_at=expires_at,
        first_notice_at=first_expiry_notice(context, expires_at),
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
