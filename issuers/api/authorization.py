"""The authorization code flow's endpoints of every agency (OpenID4VCI 1.0 §5; HAIP 1.0
§4): the pushed authorization request (RFC 9126 §2, wallet attestation required), and the
authorization endpoint the citizen's browser is sent to with its ``request_uri`` (RFC 9126
§4), which sends the browser on to the agency's way of finding out who the citizen is (the
eID provider, the presentation page, or first the page where the citizen chooses one) and
in the end to the wallet with the code, or the error, and ``iss`` (RFC 6749 §4.1.2, RFC
9207 §2), and token revocation (RFC 7009). A request the agency cannot tie to a pushed
request of that client is answered here, never redirected (RFC 6749 §4.1.2.1): a browser
is shown a page in plain words, an API client the JSON error."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_303_SEE_OTHER
from msgspec import UnsetType

from core.errors import AccessDenied, InvalidRequest
from core.oauth import (
    PushedAuthorizationRequest,
    PushedAuthorizationResponse,
    TokenRevocationRequest,
)
from issuers.api.requests import ISSUER_CONTEXT, MAX_FORM_BYTES, known_agency
from issuers.api.sign_in_choice import to_choice_page
from issuers.api.sign_in_ways import eid_cookie_path, open_way, to_wallet
from issuers.services.authenticate_client import checked_client
from issuers.services.authorize import authorize_citizen, denied_redirect, start_authorization
from issuers.services.context import IssuerContext
from issuers.services.eid_login import (
    BROWSER_COOKIE,
    EidCallback,
    finish_eid_login,
    uses_eid_login,
)
from issuers.services.push_authorization import push_authorization_request
from issuers.services.revoke_token import revoke_token
from issuers.services.sender_constraint import fresh_dpop_nonce, pushed_request_key
from issuers.services.sign_in_choice import begin_sign_in_choice
from issuers.services.sign_in_ways import usable_ways

NO_STORE = {"Cache-Control": "no-store"}
MAX_QUERY_VALUE = 512
#: An authorization code of the eID provider (opaque; providers keep them short).
MAX_CALLBACK_VALUE = 2048


class AuthorizationController(Controller):
    path = "/issuers/{issuer_id:str}"
    tags = ["wallet-facing issuer protocol"]  # noqa: RUF012 - litestar reads a list
    dependencies = ISSUER_CONTEXT

    @post(
        "/par",
        opt={"errors": (401,), "rate_limit": "token"},
        summary="Pushed authorization request (RFC 9126), with a wallet attestation",
        operation_id="pushAuthorizationRequest",
        status_code=HTTP_201_CREATED,
        request_max_body_size=MAX_FORM_BYTES,
    )
    async def push(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        request: Request[Any, Any, Any],
        data: URLEncodedBody[PushedAuthorizationRequest],
    ) -> Response[PushedAuthorizationResponse]:
        agency = known_agency(context, issuer_id)
        # the framework converts form bodies without the message's own rules: check them
        # (PKCE S256, no request objects, response_type code) before anything is spent
        data.check()
        # RFC 9449 §10: the key the code will be exchanged with; checked before the
        # attestation. Both single-use values are used up as the request is stored.
        key = pushed_request_key(
            context,
            issuer_id,
            tuple(request.headers.getall("dpop", [])),
            dpop_jkt=None if isinstance(data.dpop_jkt, UnsetType) else data.dpop_jkt,
        )
        checked = (
            checked_client(context, issuer_id, request.headers.items(), client_id=data.client_id)
            if agency.attestation_for_authorization_code
            else None
        )
        client = None if checked is None else checked.client
        pushed = await push_authorization_request(
            context,
            issuer_id,
            data,
            attested_client_id=None if client is None else client.client_id,
            client_key=None if client is None else client.cnf_jkt,
            dpop_jkt=key.jkt,
            spend=tuple(
                single_use
                for single_use in (key.proof_jti, None if checked is None else checked.pop_jti)
                if single_use is not None
            ),
        )
        headers = NO_STORE
        if key.jkt is not None:
            # RFC 9449 §8.2: the nonce the token request's proof carries, so that a wallet
            # whose proofs a phone signs needs no round of use_dpop_nonce first
            headers = {**NO_STORE, "DPoP-Nonce": fresh_dpop_nonce(context, issuer_id)}
        return Response(pushed, status_code=HTTP_201_CREATED, headers=headers)

    @post(
        "/revoke",
        opt={"rate_limit": "token"},
        summary="Token revocation (RFC 7009): a refresh token's family, or an access token",
        operation_id="revokeToken",
        status_code=HTTP_200_OK,
        request_max_body_size=MAX_FORM_BYTES,
    )
    async def revoke(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        data: URLEncodedBody[TokenRevocationRequest],
    ) -> Response[None]:
        known_agency(context, issuer_id)
        await revoke_token(context, issuer_id, data)
        return Response(None, headers=NO_STORE)

    @get(
        "/authorize",
        # a browser with an unknown, used or expired request_uri has no wallet to go back
        # to: it is shown a page in plain words (API clients get the JSON error)
        opt={"rate_limit": "token", "browser_problem": "request"},
        summary="Authorization endpoint: the citizen is authenticated, the wallet gets a code",
        operation_id="authorize",
        status_code=HTTP_303_SEE_OTHER,
        response_description="A redirect to the wallet's redirect_uri with code, state and "
        "iss, or error and iss (RFC 6749 §4.1.2, RFC 9207 §2)",
    )
    async def authorize(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        client_id: FromQuery[str],
        request_uri: FromQuery[str],
    ) -> Redirect:
        agency = known_agency(context, issuer_id)
        # the agency's ways the deployment can use (none where development and tests
        # declare the citizen): several, and the citizen chooses first
        ways = usable_ways(context, agency)
        authorization = await start_authorization(
            context,
            issuer_id,
            client_id=client_id[:MAX_QUERY_VALUE],
            request_uri=request_uri[: MAX_QUERY_VALUE + 1],
            choosing=len(ways) > 1,
        )
        try:
            if len(ways) > 1:
                page = begin_sign_in_choice(context, authorization)
                return to_choice_page(context, agency.issuer_id, page)
            if ways:
                return await open_way(context, authorization, ways[0])
            answer = await authorize_citizen(context, authorization)
        except AccessDenied as denied:
            answer = denied_redirect(context, authorization, denied)
        return to_wallet(answer)

    @get(
        "/eid/callback",
        opt={"rate_limit": "token", "browser_problem": "eid-login"},
        summary="Where the national eID provider sends the citizen back (OpenID Connect)",
        operation_id="completeEidLogin",
        status_code=HTTP_303_SEE_OTHER,
        response_description="A redirect to the wallet's redirect_uri with code, state and "
        "iss, or access_denied and iss when the login did not identify a citizen of the "
        "agency's register",
    )
    async def eid_callback(
        self,
        context: NamedDependency[IssuerContext],
        issuer_id: FromPath[str],
        request: Request[Any, Any, Any],
        *,
        login_state: Annotated[str, QueryParameter(name="state")],
        code: FromQuery[str | None] = None,
        error: FromQuery[str | None] = None,
        iss: FromQuery[str | None] = None,
    ) -> Redirect:
        agency = known_agency(context, issuer_id)
        if not uses_eid_login(context, agency):
            raise InvalidRequest("this agency does not log citizens in at an eID provider")
        answer = await finish_eid_login(
            context,
            issuer_id,
            EidCallback(
                state=login_state[:MAX_QUERY_VALUE],
                code=None if code is None else code[:MAX_CALLBACK_VALUE],
                error=None if error is None else error[:MAX_QUERY_VALUE],
                iss=None if iss is None else iss[:MAX_QUERY_VALUE],
            ),
            browser_binding=request.cookies.get(BROWSER_COOKIE),
        )
        redirect = to_wallet(answer)
        redirect.delete_cookie(BROWSER_COOKIE, path=eid_cookie_path(issuer_id))
        return redirect
