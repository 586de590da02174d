"""The citizen's credentials and activity log."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath, JSONBody
from msgspec import to_builtins

from wallet.api.requests import (
    MAX_BODY,
    WALLET_DEPENDENCIES,
    languages,
    private,
    require_citizen_session,
)
from wallet.services.activity import activity_log
from wallet.services.activity_messages import (
    ACTIVITY_EXPORT_EXAMPLE,
    ACTIVITY_LOG_EXAMPLE,
    ActivityExport,
    ActivityLog,
)
from wallet.services.context import WalletContext
from wallet.services.credentials import delete_credential, list_credentials, show_credential
from wallet.services.holding_messages import (
    CREDENTIAL_DELETED_EXAMPLE,
    CREDENTIAL_DETAILS_EXAMPLE,
    CREDENTIAL_LIST_EXAMPLE,
    CredentialDeleted,
    CredentialDetails,
    CredentialList,
)
from wallet.services.interaction_messages import (
    OFFER_OUTCOME_EXAMPLES,
    CredentialRenewal,
    OfferOutcome,
)
from wallet.services.renew_on_phone import renew_on_phone
from wallet.services.sessions import Session


class WalletCredentialController(Controller):
    path = "/wallet/credentials"
    tags = ["citizen mobile API"]  # noqa: RUF012 - litestar reads a list
    security = [{"citizenSession": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_citizen_session)
    dependencies = WALLET_DEPENDENCIES
    opt = {"rate_limit": "citizen"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)
    request_max_body_size = MAX_BODY

    @get(
        "/",
        operation_id="listCredentials",
        responses={
            200: ResponseSpec(
                CredentialList,
                description="The citizen's credentials",
                generate_examples=False,
                examples=[Example(value=to_builtins(CREDENTIAL_LIST_EXAMPLE))],
            )
        },
        summary="The citizen's credentials, with display data and live status",
        opt={"mediation": "read", "mediation_seen": "credentials"},
    )
    async def list(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        request: Request[Any, Any, Any],
    ) -> Response[CredentialList]:
        return private(await list_credentials(context, session.account_id, languages(request)))

    @get(
        "/{credential_id:str}",
        operation_id="getCredential",
        responses={
            200: ResponseSpec(
                CredentialDetails,
                description="The credential",
                generate_examples=False,
                examples=[Example(value=to_builtins(CREDENTIAL_DETAILS_EXAMPLE))],
            )
        },
        summary="One credential: claims, display data, live status",
    )
    async def show(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        credential_id: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> Response[CredentialDetails]:
        return private(
            await show_credential(context, session.account_id, credential_id, languages(request))
        )

    @delete(
        "/{credential_id:str}",
        operation_id="deleteCredential",
        responses={
            200: ResponseSpec(
                CredentialDeleted,
                description="The credential is deleted",
                generate_examples=False,
                examples=[Example(value=to_builtins(CREDENTIAL_DELETED_EXAMPLE))],
            )
        },
        summary="Delete a credential (the issuer is told)",
        status_code=200,
    )
    async def remove(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        credential_id: FromPath[str],
    ) -> Response[CredentialDeleted]:
        return private(await delete_credential(context, session.account_id, credential_id))

    @post(
        "/{credential_id:str}/renew",
        operation_id="renewCredential",
        summary="Ask for fresh copies of a one-time credential whose keys the phone keeps",
        description="For a credential listed with `renewal_due` and `renewed_by: phone`: "
        "the phone sends one fresh public key per copy; the answer is the proofs it signs "
        "(`proofs_needed`, then `POST /wallet/offers/{offer_id}/complete`), and at the end "
        "the credential with its fresh copies (`received`).",
        responses={
            200: ResponseSpec(
                OfferOutcome,
                description="The proofs the phone must sign, or the renewed credential",
                generate_examples=False,
                examples=[
                    Example(summary=name, value=to_builtins(value))
                    for name, value in OFFER_OUTCOME_EXAMPLES.items()
                    if value.status != "authorization_required"
                ],
            )
        },
        opt={"errors": (409, 422, 502)},
        status_code=200,
    )
    async def renew(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        credential_id: FromPath[str],
        data: JSONBody[CredentialRenewal],
    ) -> Response[OfferOutcome]:
        return private(await renew_on_phone(context, session.account_id, credential_id, data))


class WalletActivityController(Controller):
    path = "/wallet/activity"
    tags = ["citizen mobile API"]  # noqa: RUF012 - litestar reads a list
    security = [{"citizenSession": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_citizen_session)
    dependencies = WALLET_DEPENDENCIES
    opt = {"rate_limit": "citizen"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)
    request_max_body_size = MAX_BODY

    @get(
        "/",
        operation_id="listActivity",
        responses={
            200: ResponseSpec(
                ActivityLog,
                description="The activity log, newest first",
                generate_examples=False,
                examples=[Example(value=to_builtins(ACTIVITY_LOG_EXAMPLE))],
            )
        },
        summary="Who received and used the citizen's data, newest first",
        opt={"mediation": "read", "mediation_seen": "activity"},
    )
    async def list(
        self, context: NamedDependency[WalletContext], session: NamedDependency[Session]
    ) -> Response[ActivityLog]:
        return private(ActivityLog(activity=await activity_log(context, session.account_id)))

    @get(
        "/export",
        operation_id="exportActivity",
        responses={
            200: ResponseSpec(
                ActivityExport,
                description="The whole activity log, as a download",
                generate_examples=False,
                examples=[Example(value=to_builtins(ACTIVITY_EXPORT_EXAMPLE))],
            )
        },
        summary="The whole activity log as a JSON download",
    )
    async def export(
        self, context: NamedDependency[WalletContext], session: NamedDependency[Session]
    ) -> Response[ActivityExport]:
        entries = await activity_log(context, session.account_id)
        return Response(
            ActivityExport(account_id=session.account_id, activity=entries),
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": 'attachment; filename="idwallet-activity.json"',
            },
        )
