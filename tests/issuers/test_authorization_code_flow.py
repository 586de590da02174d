"""The authorization code flow through an agency's services (OpenID4VCI 1.0 §5, §6;
RFC 9126; RFC 7636; RFC 6749 §4.1): a pushed request, the citizen authenticated by the
agency's authenticator with the claims from its register or from the clerk's offer, a
code given once and exchanged once for a token that fetches the credential like any
other. Every misuse is refused with the code the specifications name: a request_uri used
twice, of another client or expired; a citizen unknown or holding no such credential; a
code exchanged with the wrong verifier, client or redirect, reused (what its first use
gave is revoked), raced by fifty exchanges at once (one wins), or without the DPoP key
the pushed request named (RFC 9449 §10)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient

from core.encoding import b64url_decode
from core.errors import AccessDenied, InvalidDpopProof, InvalidGrant, InvalidRequest
from core.messages import convert_message
from core.oauth import PushedAuthorizationRequest, TokenRequest, pkce_s256_challenge
from issuers.domain import Agency, Authorization
from issuers.services.authorize import authorize_citizen, start_authorization
from issuers.services.codes import issuer_state, sha256_hex
from issuers.services.context import IssuerContext
from issuers.services.exchange_authorization_code import exchange_authorization_code
from issuers.services.push_authorization import push_authorization_request
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.issuers.wallet import Wallet, proof

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CLIENT = "https://wallet.example"
REDIRECT = "https://wallet.example/cb"
DPOP_KEY = ec.generate_private_key(ec.SECP256R1())
DPOP_JKT = Wallet(client=None, dpop_key=DPOP_KEY).dpop_jkt  # type: ignore[arg-type]


class Registered:
    """Authenticates everyone as one subject (a stand-in for the agency's eID login)."""

    def __init__(self, subject_id: str | None) -> None:
        self.subject_id = subject_id

    async def authenticate(self, agency: Agency, authorization: Authorization) -> str | None:
        return self.subject_id


def _context(client: TestClient[Any], subject_id: str | None) -> IssuerContext:
    context: IssuerContext = client.app.state.issuers
    return dataclasses.replace(context, authenticator=Registered(subject_id))


def _run(client: TestClient[Any], work: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return client.blocking_portal.call(work)


def _pushed(**change: Any) -> PushedAuthorizationRequest:
    value = {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "code_challenge": pkce_s256_challenge(VERIFIER),
        "code_challenge_method": "S256",
        "scope": "national_id",
        "state": "af0ifjsldkj",
        **change,
    }
    return convert_message(value, PushedAuthorizationRequest)


def _token_request(code: str, **change: Any) -> TokenRequest:
    """The exchange of ``code``; a member changed to None is left out."""
    value = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
        **change,
    }
    return convert_message({k: v for k, v in value.items() if v is not None}, TokenRequest)


def _code(client: TestClient[Any], context: IssuerContext, **change: Any) -> str:
    dpop_jkt = change.pop("dpop_jkt", None)

    async def flow() -> str:
        pushed = await push_authorization_request(
            context,
            "civil-registry",
            _pushed(**change),
            attested_client_id=CLIENT,
            dpop_jkt=dpop_jkt,
        )
        authorization = await start_authorization(
            context, "civil-registry", client_id=CLIENT, request_uri=pushed.request_uri
        )
        redirect = await authorize_citizen(context, authorization)
        assert redirect.redirect_uri == REDIRECT
        assert redirect.answer.state == "af0ifjsldkj"
        assert redirect.answer.iss == f"{context.public_base_url}/issuers/civil-registry"
        return redirect.answer.code

    code: str = _run(client, flow)
    return code


def _exchange(
    client: TestClient[Any],
    context: IssuerContext,
    request: TokenRequest,
    dpop_jkt: str | None = DPOP_JKT,
) -> Any:
    async def exchange() -> Any:
        return await exchange_authorization_code(
            context, "civil-registry", request, dpop_jkt=dpop_jkt
        )

    return _run(client, exchange)


def test_a_citizen_in_the_register_gets_the_credential_the_register_holds(
    client: TestClient[Any],
) -> None:
    context = _context(client, "demo-citizen")
    code = _code(client, context)
    token = _exchange(client, context, _token_request(code))
    assert token.token_type == "DPoP" and token.expires_in > 0
    wallet = Wallet(client, dpop_key=DPOP_KEY)
    issuer = f"{context.public_base_url}/issuers/civil-registry"
    metadata = wallet.metadata(issuer)
    holder = wallet.new_holder()
    response = wallet.credential(
        metadata,
        token.access_token,
        {
            "credential_configuration_id": "national_id",
            "proofs": {"jwt": [proof(holder, issuer, wallet.nonce(metadata))]},
        },
    )
    assert response.status_code == 200, response.text
    [issued] = response.json()["credentials"]
    jwt, *disclosures = issued["credential"].rstrip("~").split("~")
    payload = json.loads(b64url_decode(jwt.split(".")[1]))
    assert payload["vct"] == f"{issuer}/types/national_id"
    disclosed = {
        item[1]: item[2]
        for item in (json.loads(b64url_decode(d)) for d in disclosures)
        if len(item) == 3
    }
    # what the credential says is what the register holds, never typed in by anyone
    register = context.agency("civil-registry").register["demo-citizen"]["national_id"]
    assert disclosed["given_name"] == register["given_name"]
    assert disclosed["family_name"] == register["family_name"]
    with pytest.raises(InvalidGrant):
        _exchange(client, context, _token_request(code))


def test_a_reused_code_revokes_what_its_first_use_gave(client: TestClient[Any]) -> None:
    context = _context(client, "demo-citizen")
    code = _code(client, context)
    token = _exchange(client, context, _token_request(code))

    async def grant() -> Any:
        return await context.grants.get(sha256_hex(token.access_token))

    assert _run(client, grant).used is False
    with pytest.raises(InvalidGrant):
        _exchange(client, context, _token_request(code))
    assert _run(client, grant).used is True


@pytest.mark.parametrize(
    "change",
    [
        {"code_verifier": "x" * 43},
        {"code_verifier": None},
        {"client_id": "https://other-wallet.example"},
        {"redirect_uri": "https://wallet.example/other"},
    ],
    ids=["wrong-verifier", "no-verifier", "other-client", "other-redirect"],
)
def test_a_code_with_the_wrong_binding_is_an_invalid_grant(
    client: TestClient[Any], change: dict[str, Any]
) -> None:
    context = _context(client, "demo-citizen")
    code = _code(client, context)
    with pytest.raises(InvalidGrant):
        _exchange(client, context, _token_request(code, **change))
    # the code is still good for the client it was issued to
    assert _exchange(client, context, _token_request(code)).access_token


def test_a_request_uri_is_used_once_and_only_by_its_client(client: TestClient[Any]) -> None:
    context = _context(client, "demo-citizen")

    async def flow() -> None:
        pushed = await push_authorization_request(
            context, "civil-registry", _pushed(), attested_client_id=CLIENT
        )
        with pytest.raises(InvalidRequest, match="another client"):
            await start_authorization(
                context,
                "civil-registry",
                client_id="https://other-wallet.example",
                request_uri=pushed.request_uri,
            )
        await start_authorization(
            context, "civil-registry", client_id=CLIENT, request_uri=pushed.request_uri
        )
        with pytest.raises(InvalidRequest, match="used or expired"):
            await start_authorization(
                context, "civil-registry", client_id=CLIENT, request_uri=pushed.request_uri
            )

    _run(client, flow)


@pytest.mark.parametrize("subject", [None, "nobody-in-the-register"])
def test_a_citizen_not_authenticated_or_unknown_is_denied(
    client: TestClient[Any], subject: str | None
) -> None:
    context = _context(client, subject)
    with pytest.raises(AccessDenied):
        _code(client, context)


def test_the_clerks_offer_is_the_one_redeemed_and_only_for_its_citizen(
    client: TestClient[Any],
) -> None:
    offer = create_offer(client, "civil-registry", "national_id", CITIZEN, subject="citizen-7")
    state = issuer_state(client.app.state.issuers.secret, offer["offer_id"])
    with pytest.raises(AccessDenied, match="another citizen"):
        _code(client, _context(client, "demo-citizen"), issuer_state=state)
    context = _context(client, "citizen-7")
    code = _code(client, context, issuer_state=state)
    assert _exchange(client, context, _token_request(code)).access_token
    # the clerk's offer was redeemed by it: its own pre-authorized code no longer works
    answer = client.post(
        "/issuers/civil-registry/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
            "pre-authorized_code": offer["credential_offer"]["grants"][
                "urn:ietf:params:oauth:grant-type:pre-authorized_code"
            ]["pre-authorized_code"],
        },
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_fifty_racing_exchanges_of_one_code_give_one_token(client: TestClient[Any]) -> None:
    context = _context(client, "demo-citizen")
    code = _code(client, context)

    async def race() -> list[object]:
        async def one() -> object:
            try:
                return await exchange_authorization_code(
                    context, "civil-registry", _token_request(code), dpop_jkt=DPOP_JKT
                )
            except InvalidGrant as refused:
                return refused

        return await asyncio.gather(*(one() for _ in range(50)))

    results = _run(client, race)
    winners = [r for r in results if not isinstance(r, InvalidGrant)]
    assert len(winners) == 1


def test_the_code_is_exchanged_only_with_a_dpop_proof_of_the_key_the_pushed_request_named(
    client: TestClient[Any],
) -> None:
    context = _context(client, "demo-citizen")
    code = _code(client, context, dpop_jkt=DPOP_JKT)
    with pytest.raises(InvalidDpopProof):
        _exchange(client, context, _token_request(code), dpop_jkt=None)
    other = Wallet(client=None, dpop_key=ec.generate_private_key(ec.SECP256R1())).dpop_jkt  # type: ignore[arg-type]
    with pytest.raises(InvalidGrant):
        _exchange(client, context, _token_request(code), dpop_jkt=other)
    assert _exchange(client, context, _token_request(code)).token_type == "DPoP"
