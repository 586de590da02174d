"""``create_app()``: the one Litestar application, with its OpenAPI document at ``/schema``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import asyncpg
from litestar import Litestar
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, Reference, SecurityScheme, Tag
from litestar.types import ControllerRouterHandler, Middleware
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.audit_sealing import audit_sealing
from app.deployment import Deployment
from app.errors import (
    database_unavailable,
    http_error,
    problem,
    protocol_error,
    unexpected_error,
    validation_error,
)
from app.header_limit import refuse_oversized_headers
from app.health import HealthController, StorageHealth
from app.housekeeping import every_minute
from app.issuer_wiring import issuer_role
from app.metrics_access import HOW_TO_ENABLE, metrics_controller
from app.observability import configure_logging, correlation, prometheus_config
from app.openapi_errors import ClosedMessageSchemas, document_errors
from app.openapi_links import document_links
from app.operator_keys import keyrings
from app.oversight_wiring import oversight_role
from app.rate_limits import RateLimiter
from app.settings import Settings, SettingsError
from app.typed_bodies import TypedBodyRequest
from app.verifier_wiring import verifier_role
from app.wallet_wiring import wallet_role
from core.errors import Problem, ProtocolError
from issuers import api as issuer_api
from issuers.domain import Agency
from issuers.services.catalog import load_catalog
from oversight import api as oversight_api
from verifiers import api as verifier_api
from verifiers.domain import RelyingParty
from wallet import api as wallet_api
from web.api_docs import SwaggerPage, docs_router
from web.pages import ScreenController
from web.service_worker import ServiceWorkerController

VERSION = "0.1.0"
DOCS_PATH = "/schema"

OPENAPI_TAGS = [
    Tag(name="operations", description="Health and readiness for operators and load balancers."),
    Tag(
        name="wallet-facing issuer protocol",
        description="OpenID4VCI 1.0 endpoints of every agency, for any standard wallet.",
    ),
    Tag(
        name="agency operator API",
        description=(
            "Agency clerks' tools: offers, QR codes, credential statuses, applications to "
            "decide. Bearer operator key of the agency."
        ),
    ),
    Tag(
        name="wallet-facing verifier protocol",
        description="OpenID4VP 1.0 request objects and response URIs of every relying party.",
    ),
    Tag(
        name="counter API",
        description=(
            "Service counters: presentation requests, QR codes, status and results "
            "(polling or server-sent events). Bearer counter key of the relying party."
        ),
    ),
    Tag(
        name="citizen mobile API",
        description=(
            "The citizen's phone: device registration and sessions, receiving credentials "
            "from any OpenID4VCI issuer, the encrypted store, consent-based presentation to "
            "any OpenID4VP verifier, the activity log. Bearer access token of a device session."
        ),
    ),
    Tag(
        name="mediator API",
        description=(
            "Mediators at citizen spaces: help requests a citizen consents to in their "
            "wallet (docs/mediators.md). Bearer mediator key."
        ),
    ),
    Tag(
        name="oversight API",
        description=(
            "The oversight body (a data-protection authority): aggregates of the audit trail "
            "per counter and per agency for a period, small counts suppressed, no personal "
            "data. Bearer auditor key (idwallet auditor add)."
        ),
    ),
]


SECURITY_SCHEMES: dict[str, SecurityScheme | Reference] = {
    "operatorKey": SecurityScheme(
        type="http",
        scheme="bearer",
        description="An operator key of the agency named in the path (agency operator API).",
    ),
    "counterKey": SecurityScheme(
        type="http",
        scheme="bearer",
        description="A counter key of the relying party named in the path (counter API).",
    ),
    "citizenSession": SecurityScheme(
        type="http",
        scheme="bearer",
        description="The access token of a citizen's device session (POST /wallet/sessions).",
    ),
    "mediatorKey": SecurityScheme(
        type="http",
        scheme="bearer",
        description="A mediator's key (idwallet mediator add): the mediator API.",
    ),
    "auditorKey": SecurityScheme(
        type="http",
        scheme="bearer",
        description="The key of a registered auditor (oversight API).",
    ),
    "accessToken": SecurityScheme(
        type="http",
        scheme="bearer",
        description="The access token from the agency's token endpoint (RFC 6750 §2.1).",
    ),
}


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="idwallet",
        version=VERSION,
        description=(
            "Citizen digital ID wallet backend: SD-JWT VC credentials issued with OpenID4VCI 1.0, "
            "presented with OpenID4VP 1.0, revoked through Token Status Lists."
        ),
        tags=OPENAPI_TAGS,
        path=DOCS_PATH,
        # the documentation's own router: the screens' security headers on its answers
        openapi_router=docs_router(DOCS_PATH),
        components=Components(security_schemes=SECURITY_SCHEMES),
        render_plugins=[SwaggerPage(docs_path=DOCS_PATH)],
    )


def _check_issuance_statements(
    agencies: Mapping[str, Agency], parties: Mapping[str, RelyingParty]
) -> None:
    """A counter's purpose that serves the issuance of one of this deployment's agencies
    (named by its agency id) names an agency and configurations the catalog has."""
    for party in parties.values():
        for name, purpose in party.purposes.items():
            issuance = purpose.issuance
            if issuance is None or "://" in issuance.credential_issuer:
                continue
            agency = agencies.get(issuance.credential_issuer)
            unknown = (
                list(issuance.credential_configuration_ids)
                if agency is None
                else [
                    c
                    for c in issuance.credential_configuration_ids
                    if c not in agency.configurations
                ]
            )
            if agency is None or unknown:
                raise SettingsError(
                    f"{party.verifier_id}: the purpose {name!r} serves the issuance of"
                    f" {issuance.credential_issuer!r} ({', '.join(unknown)}), which"
                    " issuers/catalog does not have"
                )


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    # Outbound request lines carry offer and request URIs, which are bearer secrets; the
    # database drivers' debug lines carry statement parameters (personal data, code hashes).
    for chatty in ("httpx", "httpcore", "aiosqlite", "sqlalchemy.engine", "asyncpg"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    agencies = load_catalog()  # validated now: a broken catalog stops start-up
    if settings.faults:
        logging.getLogger("idwallet.faults").warning(
            "crash-test fault points armed: %s", ", ".join(settings.faults)
        )
    limiter = RateLimiter(settings)
    log = logging.getLogger("idwallet.start")
    log.info("rate limits (%s store): %s", limiter.store, settings.rate_limits.describe())
    if settings.metrics_port is None and not settings.metrics_on_public_port:
        log.warning(HOW_TO_ENABLE)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        deployment = Deployment.open(settings)
        app.state.deployment = deployment
        app.state.storage_health = StorageHealth()
        overlap = settings.key_store.retired_key_overlap

        async def destroy_retired_keys() -> int:
            return len(await deployment.keys.destroy_retired(overlap))

        try:
            async with (
                deployment.hearing_changes(),
                every_minute(destroy_retired_keys, log, "retired keys", deployment.engine),
                audit_sealing(deployment),
                issuer_role(app, settings, deployment, agencies),
                verifier_role(app, settings, deployment) as verifiers,
                wallet_role(app, settings, deployment, list(agencies)),
                oversight_role(app, settings, deployment),
            ):
                app.state.operator_access, app.state.counter_access = keyrings(
                    settings, list(agencies), list(verifiers.parties)
                )
                for agency in agencies.values():
                    login = agency.presentation_login
                    party = None if login is None else verifiers.parties.get(login.verifier_id)
                    if login is not None and (
                        party is None or login.template not in party.purposes
                    ):
                        raise SettingsError(
                            f"{agency.issuer_id}: presentation_login names the check"
                            f" {login.template!r} of {login.verifier_id!r}, which"
                            " verifiers/catalog does not register"
                        )
                _check_issuance_statements(agencies, verifiers.parties)
                yield
        finally:
            await limiter.close()
            await deployment.close()

    metrics = prometheus_config()
    handlers: list[ControllerRouterHandler] = [
        HealthController,
        *issuer_api.WALLET_FACING,
        *issuer_api.OPERATOR,
        *verifier_api.WALLET_FACING,
        *verifier_api.COUNTER,
        *wallet_api.MOBILE,
        *oversight_api.AUDITOR,
        ScreenController,
        ServiceWorkerController,
    ]
    if settings.metrics_on_public_port:
        handlers.append(metrics_controller(settings.metrics_token))
    middleware: list[Middleware] = [correlation, metrics.middleware]
    if limiter.enabled:
        middleware.append(limiter.middleware)
    app = Litestar(
        route_handlers=handlers,
        middleware=middleware,
        logging_config=None,  # ours (app.observability), with correlation ids
        lifespan=[lifespan],
        openapi_config=openapi_config(),
        plugins=[ClosedMessageSchemas()],
        exception_handlers={
            ProtocolError: protocol_error,
            Problem: problem,
            DBAPIError: database_unavailable,
            asyncpg.PostgresError: database_unavailable,
            PoolTimeout: database_unavailable,
            ConnectionError: database_unavailable,
            ValidationException: validation_error,
            HTTPException: http_error,
            Exception: unexpected_error,
        },
        request_max_body_size=settings.max_request_bytes,
        request_class=TypedBodyRequest,
        debug=False,
    )
    document_errors(app)
    document_links(app)
    # outermost, before routing: oversized header sections never reach a handler
    app.asgi_handler = refuse_oversized_headers(app.asgi_handler)
    return app
