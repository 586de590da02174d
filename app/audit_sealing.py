"""The deployment's side of the audit trail: its audit key (owner ``deployment:audit``,
kept where the deployment's own keys are: in the token when that class is placed there)
certified under the trust anchor, so that a signed head carries an ``x5c`` chain anyone
with the anchor certificate can check; and the housekeeping every worker runs: chain what
was appended every few seconds, sign a head every ``IDWALLET_AUDIT_HEAD_INTERVAL``
seconds, and remove entries past ``IDWALLET_AUDIT_RETENTION_DAYS`` down to a signed head.

Every worker runs it; one chainer works at a time (``core.storage.audit_chain``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from app.access_certificates import CannotCertify, ensure_access_certificate
from app.deployment import Deployment
from app.housekeeping import every_minute
from core.audit.store import HeadPolicy
from core.keys.signer import Signer
from core.keys.unavailable import KeyStoreUnavailable
from core.keys.x509 import AccessCertificateRequest
from core.storage.audit_chain import SqlAuditChain

#: The key that signs the heads of the audit trail.
AUDIT_KEY_OWNER = "deployment:audit"
#: How often each worker chains what was appended (seconds).
CHAIN_EVERY_SECONDS = 5.0
DAY = 86400.0

log = logging.getLogger("idwallet.audit")


def audit_chain(deployment: Deployment) -> SqlAuditChain:
    return SqlAuditChain(deployment.sessions, time.time)


def audit_certificate_request(deployment: Deployment) -> AccessCertificateRequest:
    base = deployment.settings.public_base_url
    host = urlsplit(base).hostname
    return AccessCertificateRequest(
        common_name="Audit trail",
        organization="idwallet deployment",
        dns_names=(host,) if host else (),
        uris=(f"{base}/audit",),
    )


def head_policy(deployment: Deployment) -> HeadPolicy:
    async def signer() -> Signer:
        return await ensure_access_certificate(
            deployment, AUDIT_KEY_OWNER, audit_certificate_request(deployment)
        )

    return HeadPolicy(
        signer,
        issuer=deployment.settings.public_base_url,
        interval=float(deployment.settings.audit_head_interval),
    )


async def prune_expired(deployment: Deployment, chain: SqlAuditChain) -> int:
    """Entries past the retention, down to the last head signed before the cut-off."""
    days = deployment.settings.audit_retention_days
    if days == 0:
        return 0
    return await chain.prune(time.time() - days * DAY)


async def _chain_only(chain: SqlAuditChain) -> None:
    try:
        await chain.seal(None)
    except Exception as exc:
        log.warning("chaining the audit trail failed: %s", type(exc).__name__)


@contextlib.asynccontextmanager
async def audit_sealing(deployment: Deployment) -> AsyncIterator[None]:
    chain = audit_chain(deployment)
    heads = head_policy(deployment)

    async def loop() -> None:
        unsigned = False
        while True:
            try:
                await chain.seal(heads)
                unsigned = False
            except (CannotCertify, KeyStoreUnavailable) as exc:
                # no head now (no certificate for the audit key, the token away): the
                # entries are chained all the same, and signed once the key is back
                if not unsigned:
                    log.warning("audit trail heads not signed: %s", exc)
                unsigned = True
                await _chain_only(chain)
            except Exception as exc:  # the database may be away: next time
                log.warning("chaining the audit trail failed: %s", type(exc).__name__)
            await asyncio.sleep(CHAIN_EVERY_SECONDS)

    async def prune() -> int:
        return await prune_expired(deployment, chain)

    task = asyncio.create_task(loop())
    try:
        async with every_minute(prune, log, "audit entries past retention", deployment.engine):
            yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
