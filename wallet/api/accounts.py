"""Accounts, devices and sessions of the citizen mobile API."""

from __future__ import annotations

from litestar import Controller, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from msgspec import to_builtins

from wallet.api.requests import (
    MAX_BODY,
    WALLET_DEPENDENCIES,
    private,
    require_citizen_session,
    wallet_context,
)
from wallet.services import sessions
from wallet.services.account_messages import (
    ADDED_DEVICE_EXAMPLE,
    CHALLENGE_EXAMPLE,
    SESSION_GRANTED_EXAMPLE,
    AddedDevice,
    Challenge,
    DeviceLogin,
    DeviceRegistration,
    SessionGranted,
    SessionRefresh,
)
from wallet.services.context import WalletContext
from wallet.services.holding_messages import DEVICE_LIST_EXAMPLE, DeviceList
from wallet.services.sessions import Session


class WalletAccountController(Controller):
    path = "/wallet"
    tags = ["citizen mobile API"]  # noqa: RUF012 - litestar reads a list
    opt = {"rate_limit": "citizen"}  # noqa: RUF012 - the rate-limit class (app.rate_limits)
    request_max_body_size = MAX_BODY
    dependencies = WALLET_DEPENDENCIES

    @post(
        "/challenges",
        opt={"errors": (503,), "rate_limit": "wallet_auth"},
        summary="A single-use challenge for a device proof",
        operation_id="createChallenge",
        responses={
            201: ResponseSpec(
                Challenge,
                description="A challenge to sign as the device proof's nonce",
                generate_examples=False,
                examples=[Example(value=to_builtins(CHALLENGE_EXAMPLE))],
            )
        },
        status_code=HTTP_201_CREATED,
    )
    async def challenge(self, state: State) -> Response[Challenge]:
        return private(await sessions.issue_challenge(wallet_context(state)), 201)

    @post(
        "/accounts",
        opt={"rate_limit": "wallet_auth"},
        summary="Register: a new account with its first device (device key proof)",
        operation_id="registerAccount",
        responses={
            201: ResponseSpec(
                SessionGranted,
                description="A session of the device",
                generate_examples=False,
                examples=[Example(value=to_builtins(SESSION_GRANTED_EXAMPLE))],
            )
        },
        status_code=HTTP_201_CREATED,
    )
    async def register(
        self, state: State, data: JSONBody[DeviceRegistration]
    ) -> Response[SessionGranted]:
        return private(await sessions.register(wallet_context(state), data), 201)

    @post(
        "/sessions",
        opt={"rate_limit": "wallet_auth"},
        summary="Log in with a registered device key",
        operation_id="login",
        responses={
            200: ResponseSpec(
                SessionGranted,
                description="A session of the device",
                generate_examples=False,
                examples=[Example(value=to_builtins(SESSION_GRANTED_EXAMPLE))],
            )
        },
        status_code=200,
    )
    async def login(self, state: State, data: JSONBody[DeviceLogin]) -> Response[SessionGranted]:
        return private(await sessions.login(wallet_context(state), data))

    @post(
        "/sessions/refresh",
        opt={"rate_limit": "wallet_auth"},
        summary="Rotate the refresh token for a new session",
        operation_id="refreshSession",
        responses={
            200: ResponseSpec(
                SessionGranted,
                description="A session of the device",
                generate_examples=False,
                examples=[Example(value=to_builtins(SESSION_GRANTED_EXAMPLE))],
            )
        },
        status_code=200,
    )
    async def refresh(
        self, state: State, data: JSONBody[SessionRefresh]
    ) -> Response[SessionGranted]:
        return private(await sessions.refresh(wallet_context(state), data))

    @get(
        "/devices",
        operation_id="listDevices",
        responses={
            200: ResponseSpec(
                DeviceList,
                description="The citizen's devices, revoked ones too",
                generate_examples=False,
                examples=[Example(value=to_builtins(DEVICE_LIST_EXAMPLE))],
            )
        },
        security=[{"citizenSession": []}],
        before_request=require_citizen_session,
        summary="The citizen's devices",
    )
    async def devices(
        self, context: NamedDependency[WalletContext], session: NamedDependency[Session]
    ) -> Response[DeviceList]:
        return private(await sessions.list_devices(context, session))

    @post(
        "/devices",
        operation_id="addDevice",
        responses={
            201: ResponseSpec(
                AddedDevice,
                description="The device added",
                generate_examples=False,
                examples=[Example(value=to_builtins(ADDED_DEVICE_EXAMPLE))],
            )
        },
        security=[{"citizenSession": []}],
        before_request=require_citizen_session,
        summary="Add another device of the citizen",
        status_code=HTTP_201_CREATED,
    )
    async def add_device(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        data: JSONBody[DeviceRegistration],
    ) -> Response[AddedDevice]:
        return private(await sessions.add_device(context, session, data), 201)

    @delete(
        "/devices/{device_id:str}",
        summary="Revoke a device (a lost phone): it can do nothing from now on",
        operation_id="revokeDevice",
        security=[{"citizenSession": []}],
        before_request=require_citizen_session,
        status_code=HTTP_204_NO_CONTENT,
    )
    async def revoke_device(
        self,
        context: NamedDependency[WalletContext],
        session: NamedDependency[Session],
        device_id: FromPath[str],
    ) -> None:
        await sessions.revoke_device(context, session, device_id)

    @delete(
        "/account",
        summary="Delete the account and everything in it, durably",
        operation_id="deleteAccount",
        security=[{"citizenSession": []}],
        before_request=require_citizen_session,
        status_code=HTTP_204_NO_CONTENT,
    )
    async def delete_account(
        self, context: NamedDependency[WalletContext], session: NamedDependency[Session]
    ) -> None:
        await sessions.delete_account(context, session)
