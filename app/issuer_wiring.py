"""Assembling the issuer role: the agencies and their keys, the offer and credential
stores (PostgreSQL takes the issuance hot path in its own driver's terms), pending offers'
claims and applications waiting for a clerk sealed under a key derived from the
key-encryption key, and the housekeeping that forgets ended offers and applications,
expired tokens and used nonces."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509 import Certificate
from litestar import Litestar

from app.counter_api import CounterApi
from app.declared_citizen import DeclaredCitizen
from app.deployment import Deployment
from app.housekeeping import every_minute
from app.operator_keys import load_operator_keys
from app.rate_limits import IN_PROCESS_CLIENT
from app.register_wiring import register_connector
from app.settings import Settings, SettingsError
from app.tenant_keys import issuer_keys as tenant_issuer_keys
from core.faults import FaultPoints
from core.http.client import OutboundClient
from core.keys.signer import SoftwareSigner
from core.oidc_login import OidcRelyingParty, ProviderClient
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


def eid_parties(
    settings: Settings, agencies: dict[str, Agency], outbound: OutboundClient
) -> dict[str, OidcRelyingParty]:
    """Each agency that logs citizens in at the national eID provider, as its client
    there: the deployment's registration (``IDWALLET_EID_OIDC_*``) unless the agency's
    catalog entry names its own. An agency whose provider is not configured has none."""
    key = None
    if settings.eid_oidc_client_key is not None:
        try:
            loaded = load_pem_private_key(settings.eid_oidc_client_key.read_bytes(), None)
        except (OSError, ValueError) as exc:
            raise SettingsError(f"cannot read IDWALLET_EID_OIDC_CLIENT_KEY: {exc}") from exc
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise SettingsError("IDWALLET_EID_OIDC_CLIENT_KEY must be an EC private key")
        key = SoftwareSigner(loaded)
    parties = {}
    for issuer_id, agency in agencies.items():
        login = agency.eid_login
        if login is None:
            continue
        issuer = login.issuer or settings.eid_oidc_issuer
        client_id = login.client_id or settings.eid_oidc_client_id
        secret = settings.eid_oidc_client_secret
        if login.client_secret_variable is not None:
            secret = os.environ.get(login.client_secret_variable) or None
            if secret is None:
                raise SettingsError(
                    f"{issuer_id}: eid_login.client_secret_variable names"
                    f" {login.client_secret_variable}, which is not set"
                )
        if issuer is None or client_id is None or (secret is None and key is None):
            continue
        client = ProviderClient(
            issuer=issuer,
            client_id=client_id,
            client_secret=secret,
            client_key=None if secret is not None else key,
            scope=settings.eid_oidc_scope,
        )
        parties[issuer_id] = OidcRelyingParty(client, outbound)
    return parties


def presentation_counter(
    settings: Settings, agencies: dict[str, Agency], outbound: OutboundClient
) -> CounterApi | None:
    """The counter API, for the agencies that identify citizens by a presentation, with
    the counter key of each one's verifier tenant (from the same key file as every
    counter's); none where no agency does."""
    verifier_ids = sorted(
        {a.presentation_login.verifier_id for a in agencies.values() if a.presentation_login}
    )
    if not verifier_ids:
        return None
    keys = load_operator_keys(settings, verifier_ids)
    return CounterApi(outbound, settings.public_base_url, {v: keys[v] for v in verifier_ids})


@contextlib.asynccontextmanager
async def issuer_role(
    app: Litestar, settings: Settings, deployment: Deployment, agencies: dict[str, Agency]
) -> AsyncIterator[IssuerContext]:
    keys = tenant_issuer_keys(deployment, agencies)
    await keys.certify_all()
    stack = contextlib.AsyncExitStack()
    outbound = OutboundClient(
        # the deployment's own counters (presentation during issuance), in process
        local={
            settings.public_base_url: httpx.ASGITransport(app=app, client=IN_PROCESS_CLIENT)  # type: ignore[arg-type]
        },
        exceptions=settings.outbound_allow,
        deadline=settings.outbound_deadline,
        min_rate=settings.outbound_min_rate,
    )
    register = await stack.enter_async_context(
        register_connector(settings, deployment, agencies, keys)
    )
    sessions = deployment.sessions
    on_postgres = is_postgresql(deployment.engine)
    claims = SealedClaims(Sealer(deployment.derived_secret("issuer offer claims")))
    single_use = SqlSingleUse(deployment.engine)
    context = IssuerContext(
        agencies=agencies,
        public_base_url=settings.public_base_url,
        country=settings.country,
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
        audit_trail=deployment.audit_trail,
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
        eid_parties=eid_parties(settings, agencies, outbound),
        presentation_counter=presentation_counter(settings, agencies, outbound),
        register=register,
    )
    app.state.issuers = context
    housekeeping = SqlIssuerHousekeeping(deployment.engine)

    async def forget_ended() -> int:
        now = context.clock.now()
        return await housekeeping.forget_ended(now) + await single_use.purge(now)

    try:
        async with every_minute(
            forget_ended,
            log,
            "ended offers, applications and authorizations, expired tokens, used nonces and"
            " proof ids",
            deployment.engine,
        ):
            yield context
    finally:
        await outbound.close()
        await stack.aclose()
