"""A wallet pushes its authorization request (RFC 9126 §2; OpenID4VCI 1.0 §5.1): the
agency keeps what was asked under a single-use request_uri of at most a minute, and
refuses, with the code the specifications name, a request for credentials it does not
issue, a redirect a browser must not follow, a client other than the attested one, and an
issuer_state that is not a live offer of this agency."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from litestar.testing import TestClient

from core.errors import InvalidAuthorizationDetails, InvalidClient, InvalidRequest, InvalidScope
from core.messages import convert_message
from core.oauth import PushedAuthorizationRequest, PushedAuthorizationResponse
from issuers.domain import AuthorizationState
from issuers.services.codes import issuer_state, sha256_hex
from issuers.services.context import IssuerContext
from issuers.services.push_authorization import REQUEST_URI_PREFIX, push_authorization_request
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def _request(**change: Any) -> PushedAuthorizationRequest:
    value = {
        "response_type": "code",
        "client_id": "https://wallet.example",
        "redirect_uri": "https://wallet.example/cb",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "scope": "national_id",
        "state": "af0ifjsldkj",
        **change,
    }
    return convert_message(
        {k: v for k, v in value.items() if v is not None}, PushedAuthorizationRequest
    )


def _push(
    client: TestClient[Any],
    request: PushedAuthorizationRequest,
    *,
    attested: str | None = None,
    issuer_id: str = "civil-registry",
) -> PushedAuthorizationResponse:
    context: IssuerContext = client.app.state.issuers

    async def push() -> PushedAuthorizationResponse:
        return await push_authorization_request(
            context, issuer_id, request, attested_client_id=attested
        )

    answer: PushedAuthorizationResponse = client.blocking_portal.call(push)
    return answer


def test_a_pushed_request_is_kept_under_a_short_lived_request_uri(client: TestClient[Any]) -> None:
    details = json.dumps(
        [{"type": "openid_credential", "credential_configuration_id": "national_id"}]
    )
    answer = _push(
        client,
        _request(scope=None, authorization_details=details),
        attested="https://wallet.example",
    )
    assert answer.request_uri.startswith(REQUEST_URI_PREFIX)
    assert 0 < answer.expires_in <= 60
    context: IssuerContext = client.app.state.issuers

    async def kept() -> Any:
        return await context.authorizations.by_request_uri(
            "civil-registry", sha256_hex(answer.request_uri)
        )

    authorization = client.blocking_portal.call(kept)
    assert authorization.state is AuthorizationState.PUSHED
    assert authorization.configuration_ids == ("national_id",)
    assert authorization.code_challenge == CHALLENGE
    assert authorization.wallet_state == "af0ifjsldkj"
    assert authorization.expires_at - authorization.created_at == answer.expires_in


@pytest.mark.parametrize(
    ("change", "error", "said"),
    [
        ({"scope": "passport"}, InvalidScope, "scope 'passport'"),
        ({"scope": " "}, InvalidScope, "at least one"),
        (
            {
                "scope": None,
                "authorization_details": json.dumps(
                    [{"type": "openid_credential", "credential_configuration_id": "passport"}]
                ),
            },
            InvalidAuthorizationDetails,
            "passport",
        ),
        ({"redirect_uri": "http://wallet.example/cb"}, InvalidRequest, "https"),
        ({"redirect_uri": "https://wallet.example/cb#frag"}, InvalidRequest, "fragment"),
        ({"redirect_uri": "javascript:alert(1)"}, InvalidRequest, "https"),
        ({"issuer_state": "made-up.state"}, InvalidRequest, "not one of this agency"),
    ],
    ids=[
        "unknown-scope",
        "blank-scope",
        "unknown-configuration",
        "plain-http-redirect",
        "redirect-with-fragment",
        "script-redirect",
        "forged-issuer-state",
    ],
)
def test_what_the_agency_cannot_honour_is_refused_with_its_code(
    client: TestClient[Any], change: dict[str, Any], error: type[Exception], said: str
) -> None:
    with pytest.raises(error, match=None) as refused:
        _push(client, _request(**change))
    assert said in str(refused.value)


def test_an_app_scheme_redirect_is_taken(client: TestClient[Any]) -> None:
    answer = _push(client, _request(redirect_uri="eu.europa.ec.wallet:/authorized"))
    assert answer.request_uri.startswith(REQUEST_URI_PREFIX)


def test_a_client_other_than_the_attested_one_is_refused(client: TestClient[Any]) -> None:
    with pytest.raises(InvalidClient):
        _push(client, _request(), attested="https://other-wallet.example")


def test_an_issuer_state_ties_the_authorization_to_a_live_offer(client: TestClient[Any]) -> None:
    context: IssuerContext = client.app.state.issuers
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN)
    state = issuer_state(context.secret, offer["offer_id"])
    answer = _push(client, _request(issuer_state=state))
    assert answer.request_uri.startswith(REQUEST_URI_PREFIX)
    with pytest.raises(InvalidRequest, match="not one of this agency"):
        _push(
            client,
            _request(issuer_state=state, scope="driving_licence"),
            issuer_id="transport-agency",
        )


def test_one_credential_is_asked_for_per_authorization(client: TestClient[Any]) -> None:
    """Each credential is issued from its own offer: two in one authorization are refused
    at the pushed request, before the citizen is sent anywhere."""
    context: IssuerContext = client.app.state.issuers
    registry = context.agency("civil-registry")
    national_id = registry.configurations["national_id"]
    two = dataclasses.replace(
        registry, configurations={"national_id": national_id, "residence_permit": national_id}
    )
    wider = dataclasses.replace(context, agencies={**context.agencies, "civil-registry": two})

    async def push(scope: str) -> PushedAuthorizationResponse:
        return await push_authorization_request(
            wider, "civil-registry", _request(scope=scope), attested_client_id=None
        )

    assert client.blocking_portal.call(push, "national_id national_id").expires_in > 0
    with pytest.raises(InvalidRequest, match="one credential per authorization"):
        client.blocking_portal.call(push, "national_id residence_permit")
