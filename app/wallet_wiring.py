"""Assembling the wallet role: its store, the per-citizen vault under a key derived from
the deployment's key-encryption key, where server-held holder keys are made and used
(``holder_key_vaults``), the trust anchors for issuers and verifiers (the
deployment's own and ``IDWALLET_WALLET_TRUST_ANCHORS``), and the guarded outbound client.

Requests to the deployment's own public origin go to the application itself, in process:
a citizen's wallet receives from and presents to this deployment's agencies and counters
over HTTP like any stranger's, without opening the outbound guard to loopback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from cryptography import x509
from litestar import Litestar

from app.consent_counter import CONSENT_COUNTER, ConsentCounter
from app.counter_api import CounterApi
from app.deferred_polling import polling_deferred
from app.demo_mediator import seed_demo_mediator
from app.deployment import Deployment
from app.holder_key_vaults import server_held_keys
from app.housekeeping import every_minute
from app.operator_keys import load_operator_keys
from app.rate_limits import IN_PROCESS_CLIENT
from app.settings import Settings, SettingsError
from app.status_watching import watching_statuses
from app.vapid_keys import load_vapid_key
from app.wallet_provider_keys import OWNER as WALLET_PROVIDER_OWNER
from app.wallet_provider_keys import load_wallet_provider
from core.http.client import OutboundClient
from core.http.published_documents import PublishedDocuments
from core.sdjwt_vc.issuer_keys import X5cIssuerKeys
from wallet.services.context import WalletContext, WalletPolicy
from wallet.services.notification_hub import NotificationHub
from wallet.services.renew_credential import renew_due_credentials
from wallet.services.sealing import AccountVault
from wallet.storage.mediations import SqlMediations
from wallet.storage.sql import SqlWalletStore

log = logging.getLogger("idwallet.wallet")


def wallet_anchors(settings: Settings, deployment: Deployment) -> list[x509.Certificate]:
    anchors = [deployment.trust_anchor.certificate]
    for path in settings.wallet_trust_anchors:
        try:
            anchors += x509.load_pem_x509_certificates(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise SettingsError(f"cannot read IDWALLET_WALLET_TRUST_ANCHORS {path}: {exc}") from exc
    return anchors


def consent_counter(settings: Settings, outbound: OutboundClient) -> ConsentCounter | None:
    """The consent counter over the counter API with its key (docs/mediators.md); None
    where the deployment has no key for it (a citizen then consents with the code only)."""
    try:
        keys = load_operator_keys(settings, [CONSENT_COUNTER])
    except SettingsError:
        return None
    return ConsentCounter(
        CounterApi(outbound, settings.public_base_url, {CONSENT_COUNTER: keys[CONSENT_COUNTER]}),
        settings.public_base_url,
    )


async def forget_expired(context: WalletContext) -> int:
    """The wallet's housekeeping pass: expired flows, challenges and refresh tokens."""
    now = context.clock.now()
    store = context.store
    return (
        await store.flows.purge(now)
        + await store.challenges.purge(now)
        + await store.refresh_tokens.purge(now)
        + await context.mediations.purge(now)
    )


async def housekeeping(context: WalletContext, deployment: Deployment) -> int:
    """Every minute: ``forget_expired``, fresh batches of one-time credentials, and the
    wallet provider's key: loaded where the key store was not reachable at start-up, and
    taken up within a minute of a rotation. (Deferred credentials are asked for by the
    poller, when each is due: ``polling_deferred``.)"""
    if deployment.wallet_provider_ca is not None:
        current = context.wallet_provider
        active = await deployment.keys.active_record(WALLET_PROVIDER_OWNER)
        if current is None or active is None or active.kid != current.signer.kid:
            context.wallet_provider = await load_wallet_provider(deployment) or current
    renewed = await renew_due_credentials(context)
    if renewed:
        log.info("%d one-time credentials got a fresh batch", renewed)
    return await forget_expired(context)


@contextlib.asynccontextmanager
async def wallet_role(
    app: Litestar, settings: Settings, deployment: Deployment, agency_ids: list[str]
) -> AsyncIterator[WalletContext]:
    outbound = OutboundClient(
        local={
            settings.public_base_url: httpx.ASGITransport(app=app, client=IN_PROCESS_CLIENT)  # type: ignore[arg-type]
        },
        exceptions=settings.outbound_allow,
        deadline=settings.outbound_deadline,
        min_rate=settings.outbound_min_rate,
    )
    anchors = wallet_anchors(settings, deployment)
    context = WalletContext(
        store=SqlWalletStore(deployment.sessions, deployment.changes),
        outbound=outbound,
        documents=PublishedDocuments(outbound, revalidate=settings.status_list_revalidate),
        vault=AccountVault(deployment.derived_secret("wallet data keys")),
        anchors=anchors,
        issuer_trust=X5cIssuerKeys(anchors),
        verifier_trust=X5cIssuerKeys(anchors),
        public_base_url=settings.public_base_url,
        token_secret=deployment.derived_secret("wallet access tokens"),
        audit=deployment.audit_trail,
        mediations=SqlMediations(deployment.sessions),
        watch_secret=deployment.derived_secret("wallet status watches"),
        policy=WalletPolicy(mediation_lifetime=settings.mediation_minutes * 60),
        redirect_schemes=frozenset(settings.wallet_redirect_schemes),
        server_keys=server_held_keys(deployment),
        wallet_provider=await load_wallet_provider(deployment),
        identity_check=consent_counter(settings, outbound),
        known_issuers=(
            *(f"{settings.public_base_url}/issuers/{agency_id}" for agency_id in agency_ids),
            *settings.wallet_issuers,
        ),
    )
    notices = settings.notifications
    context.policy = dataclasses.replace(
        context.policy,
        expiry_notice_days=notices.expiry_notice_days,
        watch_floor=float(notices.watch_floor),
        watch_ceiling=float(notices.watch_ceiling),
    )
    context.notices = NotificationHub(max_streams=notices.max_streams)
    context.vapid = load_vapid_key(settings)
    app.state.wallet = context
    await seed_demo_mediator(settings, context.mediations)  # development only

    purge = every_minute(
        lambda: housekeeping(context, deployment),
        log,
        "expired wallet flows, challenges and refresh tokens",
        deployment.engine,
    )
    try:
        watching = watching_statuses(context, log, float(notices.watch_every))
        async with purge, polling_deferred(context, log), watching:
            yield context
    finally:
        await outbound.close()
