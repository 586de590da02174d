"""Assembling the issuer role: the agencies and their keys, the offer and credential
stores (PostgreSQL takes the issuance hot path in its own driver's terms), pending offers'
claims and applications waiting for a clerk sealed under a key derived from the
key-encryption key, and the housekeeping that forgets ended offers and applications,
expired tokens and used nonces."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from cryptography.x509 import Certificate
from litestar import Litestar

from app.declared_citizen import DeclaredCitizen
from app.deployment import Deployment
from app.housekeeping import every_minute
from app.settings import Settings
from app.tenant_keys import issuer_keys as tenant_issuer_keys
from core.faults import FaultPoints
from core.sealing import Sealer
from core.storage.driver import is_postgresql
from core.storage.single_use import SqlSingleUse
from issuers.domain import Agency
from issuers.services.context import IssuancePolicy, IssuerContext, NoCitizenAuthentication
from issuers.storage.applications import SqlApplicationStore
from issuers.storage.authorizations import SqlAuthorizationStore
from issuers.storage.housekeeping import SqlIssuerHousekeeping
from issuers.storage.offer_claims import SealedClaims
from issuers.storage.postgres_issuance import PostgresCredentialLedger, PostgresOfferStore
from issuers.storage.refresh_tokens import SqlRefreshTokenStore
from issuers.storage.sql import SqlAuditLog, SqlCredentialLedger, SqlGrantStore, SqlOfferStore

log = logging.getLogger("idwallet.issuers")


def wallet_provider_anchors(settings: Settings, deployment: Deployment) -> tuple[Certificate, ...]:
    """The wallet providers whose attestations agencies accept: those of
    ``IDWALLET_WALLET_PROVIDER_ANCHORS``, and always this deployment's own."""
    own = deployment.wallet_provider_ca
    return settings.wallet_provider_anchors + (() if own is None else (own.certificate,))


@contextlib.asynccontextmanager
async def issuer_role(
    app: Litestar, settings: Settings, deployment: Deployment, agencies: dict[str, Agency]
) -> AsyncIterator[IssuerContext]:
    keys = tenant_issuer_keys(deployment, agencies)
    await keys.certify_all()
    sessions = deployment.sessions
    on_postgres = is_postgresql(deployment.engine)
    claims = SealedClaims(Sealer(deployment.derived_secret("issuer offer claims")))
    single_use = SqlSingleUse(deployment.engine)
    context = IssuerContext(
        agencies=agencies,
        public_base_url=settings.public_base_url,
        keys=keys,
        offers=(PostgresOfferStore if on_postgres else SqlOfferStore)(sessions, claims),
        grants=SqlGrantStore(sessions),
        ledger=(PostgresCredentialLedger if on_postgres else SqlCredentialLedger)(
            sessions, claims, settings.status_list_size
        ),
        audit=SqlAuditLog(sessions),
        authorizations=SqlAuthorizationStore(sessions),
        refresh_tokens=SqlRefreshTokenStore(sessions),
        applications=SqlApplicationStore(deployment.engine, claims, settings.status_list_size),
        secret=deployment.derived_secret("issuer codes"),
        policy=IssuancePolicy(
            status_list_ttl=settings.status_list_ttl,
            issued_at_precision=settings.issued_at_precision,
        ),
        faults=FaultPoints(frozenset(settings.faults)),
        authenticator=NoCitizenAuthentication()
        if settings.test_citizen is None
        else DeclaredCitizen(settings.test_citizen),
        wallet_provider_anchors=wallet_provider_anchors(settings, deployment),
        seen_once=single_use,
    )
    app.state.issuers = context
    housekeeping = SqlIssuerHousekeeping(deployment.engine)

    async def forget_ended() -> int:
        now = context.clock.now()
        return await housekeeping.forget_ended(now) + await single_use.purge(now)

    async with every_minute(
        forget_ended,
        log,
        "ended offers, applications and authorizations, expired tokens, used nonces and proof ids",
        deployment.engine,
    ):
        yield context
