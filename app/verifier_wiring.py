"""Assembling the verifier role: relying parties and their keys, the transaction store,
the issuer trust policy (deployment anchor, extra anchors, issuers trusted by metadata),
and the outbound client that fetches status lists and metadata.

Status lists of this deployment's own agencies are fetched over HTTP like anyone else's,
but in process: requests to the deployment's own public origin go to the application
itself, so a development deployment on ``http://127.0.0.1`` checks its own credentials
without opening the SSRF guard to loopback. They are asked for again every
``IDWALLET_STATUS_LIST_REVALIDATE`` seconds, so a revocation reaches every counter within
seconds; other issuers' lists are kept for their ``ttl`` (``core.http.published_documents``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from cryptography import x509
from litestar import Litestar

from app.deployment import Deployment
from app.housekeeping import every_minute
from app.rate_limits import IN_PROCESS_CLIENT
from app.registrar import DeploymentRegistrar
from app.settings import Settings, SettingsError
from app.tenant_keys import verifier_keys
from core.http.client import OutboundClient, OutboundFailed, OutboundRefused
from core.http.published_documents import PublishedDocuments
from core.sdjwt_vc.issuer_keys import (
    IssuerKeyError,
    IssuerKeyPolicy,
    MetadataIssuerKeys,
    X5cIssuerKeys,
)
from core.storage.driver import is_postgresql
from verifiers.services.catalog import load_relying_parties, load_templates
from verifiers.services.context import PresentationPolicy, VerifierContext
from verifiers.services.read_claim_labels import ClaimLabels
from verifiers.services.read_mdoc_labels import MdocClaimLabels
from verifiers.services.validate_presentation import PresentationValidator, StatusListCache
from verifiers.storage.postgres import PostgresTransactionStore
from verifiers.storage.sql import SqlTransactionStore

log = logging.getLogger("idwallet.verifiers")


def issuer_anchors(settings: Settings, deployment: Deployment) -> list[x509.Certificate]:
    anchors = [deployment.trust_anchor.certificate]
    if settings.trusted_issuer_anchors is not None:
        try:
            anchors += x509.load_pem_x509_certificates(settings.trusted_issuer_anchors.read_bytes())
        except (OSError, ValueError) as exc:
            raise SettingsError(f"cannot read IDWALLET_TRUSTED_ISSUER_ANCHORS: {exc}") from exc
    return anchors


def issuer_metadata_source(documents: PublishedDocuments) -> Callable[[str], Awaitable[Any]]:
    """JWT VC Issuer Metadata for :class:`MetadataIssuerKeys`: an issuer whose metadata
    cannot be fetched (unreachable, too slow, refused by the guard) is a key that cannot be
    resolved, so the presentation fails its trust check instead of the request failing."""

    async def fetch(uri: str) -> Any:
        try:
            return await documents.fetch_json(uri)
        except (OutboundFailed, OutboundRefused) as exc:
            raise IssuerKeyError(f"the issuer's metadata could not be fetched: {exc}") from exc

    return fetch


@contextlib.asynccontextmanager
async def verifier_role(
    app: Litestar, settings: Settings, deployment: Deployment
) -> AsyncIterator[VerifierContext]:
    templates = load_templates(settings.public_base_url)
    parties = load_relying_parties(templates)
    keys = verifier_keys(deployment, parties)
    await keys.certify_all()
    outbound = OutboundClient(
        local={
            settings.public_base_url: httpx.ASGITransport(app=app, client=IN_PROCESS_CLIENT)  # type: ignore[arg-type]
        },
        exceptions=settings.outbound_allow,
        deadline=settings.outbound_deadline,
        min_rate=settings.outbound_min_rate,
    )
    documents = PublishedDocuments(outbound, revalidate=settings.status_list_revalidate)
    anchors = issuer_anchors(settings, deployment)
    trust = IssuerKeyPolicy(
        x5c=X5cIssuerKeys(anchors),
        metadata=MetadataIssuerKeys(
            issuer_metadata_source(documents), trusted_issuers=settings.trusted_issuers
        ),
    )
    # PostgreSQL takes each step of a verification in its own driver's terms.
    store = PostgresTransactionStore if is_postgresql(deployment.engine) else SqlTransactionStore
    context = VerifierContext(
        parties=parties,
        templates=templates,
        public_base_url=settings.public_base_url,
        keys=keys,
        transactions=store(deployment.engine),
        status_lists=documents,
        issuer_keys=trust,
        secret=deployment.derived_secret("verifier responses"),
        audit_trail=deployment.audit_trail,
        registrar=DeploymentRegistrar(deployment.trust_anchor),
        issuer_anchors=tuple(anchors),
        policy=PresentationPolicy(
            request_lifetime=float(settings.presentation_request_lifetime),
            result_retention=float(settings.verifier_result_retention),
        ),
    )
    app.state.verifiers = context
    labels = ClaimLabels(outbound, own_origin=settings.public_base_url)
    mdoc_labels = MdocClaimLabels(outbound, own_origin=settings.public_base_url)
    app.state.presentation_validator = PresentationValidator(
        context, StatusListCache(), labels, mdoc_labels
    )
    purge = every_minute(
        lambda: context.transactions.purge(context.clock.now() - context.policy.result_retention),
        log,
        "presentation transactions",
        deployment.engine,
    )
    try:
        async with purge:
            yield context
    finally:
        await outbound.close()
