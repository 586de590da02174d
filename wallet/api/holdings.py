"""The citizen's credentials and activity log."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get
from litestar.datastructures import State
from litestar.params import FromPath

from wallet.api.requests import MAX_BODY, languages, private, require_citizen_session, session_of
from wallet.services.activity import activity_log
from wallet.services.credentials import delete_credential, list_credentials, show_credential
from wallet.services.holding_messages import (
    ActivityExport,
    ActivityLog,
    CredentialDeleted,
    CredentialDetails,
    CredentialList,
)


class WalletCredentialController(Controller):
    path = "/wallet/credentials"
    tags = ["citizen mobile API"]  # noqa: RUF012 - litestar reads a list
    security = [{"citizenSession": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_citizen_session)
    opt = {"rate_limit": "citizen"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)
    request_max_body_size = MAX_BODY

    @get(
        "/",
        operation_id="listCredentials",
        summary="The citizen's credentials, with display data and live status",
    )
    async def list(self, state: State, request: Request[Any, Any, Any]) -> Response[CredentialList]:
        context, session = await session_of(state, request)
        return private(await list_credentials(context, session.account_id, languages(request)))

    @get(
        "/{credential_id:str}",
        operation_id="getCredential",
        summary="One credential: claims, display data, live status",
    )
    async def show(
        self, credential_id: FromPath[str], state: State, request: Request[Any, Any, Any]
    ) -> Response[CredentialDetails]:
        context, session = await session_of(state, request)
        return private(
            await show_credential(context, session.account_id, credential_id, languages(request))
        )

    @delete(
        "/{credential_id:str}",
        operation_id="deleteCredential",
        summary="Delete a credential (the issuer is told)",
        status_code=200,
    )
    async def remove(
        self, credential_id: FromPath[str], state: State, request: Request[Any, Any, Any]
    ) -> Response[CredentialDeleted]:
        context, session = await session_of(state, request)
        return private(await delete_credential(context, session.account_id, credential_id))


class WalletActivityController(Controller):
    path = "/wallet/activity"
    tags = ["citizen mobile API"]  # noqa: RUF012 - litestar reads a list
    security = [{"citizenSession": []}]  # noqa: RUF012 - litestar reads a list
    before_request = staticmethod(require_citizen_session)
    opt = {"rate_limit": "citizen"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)
    request_max_body_size = MAX_BODY

    @get(
        "/",
        operation_id="listActivity",
        summary="Who received and used the citizen's data, newest first",
    )
    async def list(self, state: State, request: Request[Any, Any, Any]) -> Response[ActivityLog]:
        context, session = await session_of(state, request)
        return private(ActivityLog(activity=await activity_log(context, session.account_id)))

    @get(
        "/export",
        operation_id="exportActivity",
        summary="The whole activity log as a JSON download",
    )
    async def export(
        self, state: State, request: Request[Any, Any, Any]
    ) -> Response[ActivityExport]:
        context, session = await session_of(state, request)
        entries = await activity_log(context, session.account_id)
        return Response(
            ActivityExport(account_id=session.account_id, activity=entries),
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": 'attachment; filename="idwallet-activity.json"',
            },
        )
