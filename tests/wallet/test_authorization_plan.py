"""What the wallet pushes to an authorization server and what it takes back from it
(RFC 9126 §2.2): a ``request_uri`` that is a URN or a URL of the server asked, nothing
else."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.jose.jwk import public_jwk
from core.oauth import pkce_s256_challenge
from tests.wallet.test_authorization_code import CIVIL
from wallet.domain import Custody, Refused
from wallet.services.authorization_plan import _pushed, state_of
from wallet.services.holder_keys import KeptHolderKey
from wallet.services.instance_keys import InstanceKeys
from wallet.services.offer_flow import AuthorizationPlan


def _key() -> KeptHolderKey:
    return KeptHolderKey(
        holder_key_id="k",
        custody=Custody.SERVER,
        public_jwk=public_jwk(ec.generate_private_key(ec.SECP256R1())),
        sealed_private_key=None,
    )


PLAN = AuthorizationPlan(
    authorization_server=CIVIL,
    authorization_endpoint=f"{CIVIL}/authorize",
    par_endpoint=f"{CIVIL}/par",
    issuer_state=None,
    scope=None,
    redirect_uri="https://id.example.gov/wallet/callback",
    client_id="https://id.example.gov/wallet",
    state_secret="s3cret",
    code_verifier="v" * 64,
    attested=True,
    dpop=True,
    keys=InstanceKeys(attestation=_key(), dpop=_key()),
)


@pytest.mark.parametrize(
    "request_uri",
    ["urn:ietf:params:oauth:request_uri:abc", f"{CIVIL}/requests/abc"],
)
def test_a_urn_or_a_url_of_the_server_asked_is_taken(request_uri: str) -> None:
    assert _pushed({"request_uri": request_uri, "expires_in": 60}, PLAN).request_uri == request_uri


@pytest.mark.parametrize(
    "body",
    [
        {"expires_in": 60},
        {"request_uri": "https://elsewhere.example/requests/abc", "expires_in": 60},
        {"request_uri": "javascript:alert(1)", "expires_in": 60},
        {"request_uri": "urn:" + "x" * 3000, "expires_in": 60},
        {"request_uri": "urn:ietf:params:oauth:request_uri:abc", "expires_in": 0},
        [],
    ],
    ids=["no-request-uri", "another-server", "a-script", "too-long", "expired", "not-an-object"],
)
def test_a_pushed_response_without_a_request_uri_or_pointing_elsewhere_is_refused(
    body: Any,
) -> None:
    with pytest.raises(Refused):
        _pushed(body, PLAN)


def test_the_state_names_the_flow_and_carries_its_secret() -> None:
    assert state_of("flow-1", PLAN) == "flow-1.s3cret"
    assert len(pkce_s256_challenge(PLAN.code_verifier)) == 43
