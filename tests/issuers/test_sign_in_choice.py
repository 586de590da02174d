"""The citizen chooses how to prove who they are where the agency allows several ways: the
transport agency allows the national eID login (a real OpenID Provider the suite starts,
``tests.support.oidc_provider``) beside the presentation of the national ID. The
authorization endpoint sends the browser to the agency's page (which agency asks, what it
will issue, from which register data, the ways); the choice sends it on to the provider or
to the presentation page, and the citizen ends with a code at the wallet. The choice is
bound to one authorization and one browser and made once: a second choice opens no second
way, a choice from another browser or after a cancel gets ``access_denied`` at the
wallet, a way the agency does not offer and a forged page are refused here. With one way
only, the authorization endpoint goes straight to it, as before. On SQLite and
PostgreSQL."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar.testing import TestClient

from app import create_app
from app.settings import Settings
from core.keys.signer import SoftwareSigner
from core.oauth import pkce_s256_challenge
from issuers.services.browser_logins import derived
from issuers.services.sign_in_choice import KIND
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_authorization_endpoints import REDIRECT, TRUSTED, VERIFIER
from tests.issuers.test_catalog import DRIVER
from tests.issuers.test_presentation_login import (
    AGENCY,
    ISSUER,
    _complete,
    _denied,
    _holding_national_id,
    _licence,
    _present,
    _refusals,
    _status,
)
from tests.support.oidc_provider import (
    EIDAS_SUBSTANTIAL,
    ProviderClient,
    ProviderConfig,
    ProviderUser,
    RunningProvider,
    log_in,
    running_oidc_provider,
)
from tests.support.wallet_provider import CLIENT_ID, attestation_headers, new_instance

SECRET = "eid-client-secret-for-tests"
CALLBACKS = tuple(
    f"{PUBLIC_BASE_URL}/issuers/{agency}/eid/callback"
    for agency in ("transport-agency", "civil-registry")
)
PAGE = f"/issuers/{AGENCY}/sign-in/"


@pytest.fixture(scope="module")
def provider() -> Iterator[RunningProvider]:
    config = ProviderConfig(
        clients=(ProviderClient("idwallet", CALLBACKS, client_secret=SECRET),),
        users=(ProviderUser("u-erika", EIDAS_SUBSTANTIAL, {"personal_number": "demo-citizen"}),),
    )
    with running_oidc_provider(config) as running:
        yield running


def with_eid_provider(settings: Settings, provider: RunningProvider) -> Settings:
    """The deployment with the national eID provider configured: the transport agency then
    allows both ways."""
    return dataclasses.replace(
        settings,
        wallet_provider_anchors=(TRUSTED.root,),
        eid_oidc_issuer=provider.issuer,
        eid_oidc_client_id="idwallet",
        eid_oidc_client_secret=SECRET,
        eid_oidc_scope="openid eid",
        outbound_allow=(f"127.0.0.1:{provider.port}",),
    )


@pytest.fixture
def client(settings: Settings, provider: RunningProvider) -> Iterator[TestClient[Any]]:
    with TestClient(
        app=create_app(with_eid_provider(settings, provider)), base_url=PUBLIC_BASE_URL
    ) as client:
        yield client


def _authorize(client: TestClient[Any], instance: SoftwareSigner, agency: str = AGENCY) -> Any:
    """A HAIP wallet's pushed request for the licence, and the citizen's browser at the
    authorization endpoint."""
    form = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "code_challenge": pkce_s256_challenge(VERIFIER),
        "code_challenge_method": "S256",
        "scope": "driving_licence" if agency == AGENCY else "national_id",
        "state": "af0ifjsldkj",
    }
    audience = f"{PUBLIC_BASE_URL}/issuers/{agency}"
    headers = attestation_headers(TRUSTED, instance, audience=audience, issued_at=time.time())
    pushed = client.post(f"/issuers/{agency}/par", data=form, headers=headers)
    assert pushed.status_code == 201, pushed.text
    return client.get(
        f"/issuers/{agency}/authorize",
        params={"client_id": CLIENT_ID, "request_uri": pushed.json()["request_uri"]},
        follow_redirects=False,
    )


def _to_the_choice(client: TestClient[Any], instance: SoftwareSigner) -> str:
    """The browser at the agency's page, with its cookie; the page's path."""
    sent = _authorize(client, instance)
    assert sent.status_code == 303, sent.text
    location = urlsplit(sent.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == PUBLIC_BASE_URL
    assert location.path.startswith(PAGE), location
    cookie = sent.headers["set-cookie"]
    assert cookie.startswith("idwallet_sign_in=") and f"Path={PAGE.rstrip('/')}" in cookie
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    shown = client.get(location.path)
    assert shown.status_code == 200 and "text/html" in shown.headers["content-type"]
    assert "script-src 'self'" in shown.headers["content-security-policy"]
    return location.path


def _view(client: TestClient[Any], page: str) -> dict[str, Any]:
    answer = client.get(f"{page}/view")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    view: dict[str, Any] = answer.json()
    return view


def _choose(client: TestClient[Any], page: str, way: str, **headers: str) -> Any:
    return client.get(
        f"{page}/choose", params={"way": way}, headers=headers, follow_redirects=False
    )


def _at_the_wallet(answer: Any) -> dict[str, str]:
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT, location
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def _back_from_the_provider(client: TestClient[Any], provider_url: str) -> Any:
    with httpx.Client() as browser:
        callback = urlsplit(log_in(browser, provider_url, "demo-citizen"))
    assert callback.path == f"/issuers/{AGENCY}/eid/callback", callback
    return client.get(f"{callback.path}?{callback.query}", follow_redirects=False)


def test_the_page_shows_who_asks_what_it_issues_from_which_register_and_the_ways(
    client: TestClient[Any],
) -> None:
    page = _to_the_choice(client, new_instance())
    view = _view(client, page)
    assert view["status"] == "choosing"
    assert {"locale": "de", "name": "Verkehrsbehörde"} in view["agency"]
    assert {"locale": "de", "name": "Führerschein"} in view["credential"]
    assert {"locale": "en", "name": "Driving licence register"} in view["register"]["name"]
    assert {"locale": "de", "name": "Fahrerlaubnisregister"} in view["register"]["name"]
    claims = {claim["name"]: claim["display"] for claim in view["register"]["claims"]}
    assert list(claims) == [
        "given_name",
        "family_name",
        "birthdate",
        "document_number",
        "driving_privileges",
        "issuing_authority",
    ]
    assert {"locale": "de", "name": "Führerscheinnummer"} in claims["document_number"]
    base = f"{PUBLIC_BASE_URL}{page}"
    assert view["ways"] == [
        {"way": "eid_login", "url": f"{base}/choose?way=eid_login"},
        {"way": "presentation_login", "url": f"{base}/choose?way=presentation_login"},
    ]
    assert view["cancel_url"] == f"{base}/cancel"


def test_choosing_the_eid_login_leads_to_the_provider_and_the_licence(
    client: TestClient[Any], provider: RunningProvider
) -> None:
    instance = new_instance()
    page = _to_the_choice(client, instance)
    chosen = _choose(client, page, "eid_login")
    assert chosen.status_code == 303, chosen.text
    assert chosen.headers["location"].startswith(f"{provider.issuer}/auth?")
    assert chosen.headers["set-cookie"].startswith("idwallet_eid_login=")
    assert _view(client, page)["status"] == "chosen"
    answer = _at_the_wallet(_back_from_the_provider(client, chosen.headers["location"]))
    assert answer["iss"] == ISSUER and answer["state"] == "af0ifjsldkj" and answer["code"]
    licence = _licence(client, instance, answer["code"])
    assert licence["document_number"] == DRIVER["document_number"]  # from the register
    assert _refusals(client) == []
    assert _view(client, page)["status"] == "ended"


def test_choosing_the_presentation_leads_to_the_agencys_presentation_page(
    client: TestClient[Any],
) -> None:
    phone = _holding_national_id(client)
    instance = new_instance()
    page = _to_the_choice(client, instance)
    chosen = _choose(client, page, "presentation_login")
    assert chosen.status_code == 303, chosen.text
    location = urlsplit(chosen.headers["location"])
    assert location.path.startswith(f"/issuers/{AGENCY}/presentation-login/"), location
    assert chosen.headers["set-cookie"].startswith("idwallet_presentation_login=")
    presentation = location.path
    status = _status(client, presentation)
    assert status["status"] == "waiting"
    assert status["register"] == _view(client, page)["register"]  # the same register data
    assert _present(phone, status["uri"])["outcome"] == "accepted"
    answer = _complete(client, presentation)
    assert _licence(client, instance, answer["code"])["birthdate"] == DRIVER["birthdate"]
    assert _refusals(client) == []


def test_a_second_choice_opens_no_second_way(
    client: TestClient[Any], provider: RunningProvider
) -> None:
    instance = new_instance()
    page = _to_the_choice(client, instance)
    first = _choose(client, page, "eid_login")
    assert first.headers["location"].startswith(f"{provider.issuer}/auth?")
    for way in ("presentation_login", "eid_login"):
        again = _at_the_wallet(_choose(client, page, way))
        _denied(again, "chosen already")
    assert [r["outcome"] for r in _refusals(client)] == ["choice_ended", "choice_ended"]
    # no presentation was asked for; what the first choice started goes on
    answer = _at_the_wallet(_back_from_the_provider(client, first.headers["location"]))
    assert answer["code"], answer


def test_a_way_the_agency_does_not_offer_is_refused_here(client: TestClient[Any]) -> None:
    page = _to_the_choice(client, new_instance())
    unknown = _choose(client, page, "password")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_request"
    # the eID provider is no longer configured (the deployment restarted without it)
    context = client.app.state.issuers
    client.app.state.issuers = dataclasses.replace(context, eid_parties={})
    refused = _choose(client, page, "eid_login")
    assert refused.status_code == 400, refused.text
    assert refused.json() == {
        "error": "invalid_request",
        "error_description": "this agency does not offer eid_login to prove who you are",
    }
    assert [way["way"] for way in _view(client, page)["ways"]] == ["presentation_login"]
    # nothing was used up: the way it offers is still open
    chosen = _choose(client, page, "presentation_login")
    assert urlsplit(chosen.headers["location"]).path.startswith(
        f"/issuers/{AGENCY}/presentation-login/"
    )
    assert _refusals(client) == []


def test_cancel_sends_the_browser_back_to_the_wallet_and_ends_the_authorization(
    client: TestClient[Any],
) -> None:
    page = _to_the_choice(client, new_instance())
    cancelled = client.get(f"{page}/cancel", follow_redirects=False)
    _denied(_at_the_wallet(cancelled), "cancelled")
    assert 'idwallet_sign_in=""' in cancelled.headers["set-cookie"]  # forgotten
    assert [r["outcome"] for r in _refusals(client)] == ["cancelled"]
    client.cookies.set("idwallet_sign_in", _binding_of(client, page))
    assert _view(client, page)["status"] == "ended"
    _denied(_at_the_wallet(_choose(client, page, "eid_login")), "ended")


def _binding_of(client: TestClient[Any], page: str) -> str:
    """The browser binding the authorization endpoint gave for ``page``'s authorization
    (the cookie a browser that kept it would still send)."""
    authorization_id = page.rsplit("/", 1)[1].split(".", maxsplit=1)[0]
    return derived(client.app.state.issuers, KIND, "browser", authorization_id)


def test_another_browser_can_neither_see_nor_make_the_choice(client: TestClient[Any]) -> None:
    page = _to_the_choice(client, new_instance())
    client.cookies.clear()  # another browser, which has the page's address only
    seen = client.get(f"{page}/view")
    assert seen.status_code == 400 and seen.json()["error"] == "access_denied"
    _denied(_at_the_wallet(_choose(client, page, "presentation_login")), "another browser")
    assert [r["outcome"] for r in _refusals(client)] == ["session_mismatch"]


def test_a_forged_page_is_refused_here_not_redirected(client: TestClient[Any]) -> None:
    page = _to_the_choice(client, new_instance())
    authorization_id = page.rsplit("/", 1)[1].split(".")[0]
    for forged in (
        f"{PAGE}{authorization_id}.AAAA",
        f"{PAGE}not-a-choice",
        f"{PAGE}{authorization_id}.%C3%AE%C2%A0",  # not ASCII: refused, never a 500
    ):
        for path in ("/view", "/choose?way=eid_login", "/cancel"):
            answer = client.get(f"{forged}{path}", follow_redirects=False)
            assert answer.status_code == 400, (forged, path, answer.text)
            assert answer.json()["error"] == "invalid_request"
    kept = dict(client.cookies)
    client.cookies.clear()
    answer = client.get(  # a cookie that is not ASCII: another browser's
        f"{page}/view", headers={b"cookie": "idwallet_sign_in=cookie-\u00e9".encode("latin-1")}
    )
    assert answer.status_code == 400 and answer.json()["error"] == "access_denied"
    client.cookies.update(kept)
    assert _view(client, page)["status"] == "choosing"  # the real one is untouched


class _Later:
    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at


def test_a_choice_after_the_time_ran_out_opens_nothing(client: TestClient[Any]) -> None:
    page = _to_the_choice(client, new_instance())
    context = client.app.state.issuers
    later = context.clock.now() + context.policy.authentication_lifetime + 1
    client.app.state.issuers = dataclasses.replace(context, clock=_Later(later))
    assert _view(client, page)["status"] == "ended"
    _denied(_at_the_wallet(_choose(client, page, "eid_login")), "ended")


def test_with_one_way_the_authorization_endpoint_goes_straight_to_it(
    settings: Settings, provider: RunningProvider
) -> None:
    # the civil registry allows only the eID login: straight to the provider
    with TestClient(
        app=create_app(with_eid_provider(settings, provider)), base_url=PUBLIC_BASE_URL
    ) as client:
        sent = _authorize(client, new_instance(), "civil-registry")
        assert sent.status_code == 303 and sent.headers["location"].startswith(provider.issuer)
    # without the eID provider the transport agency has one way: its presentation page
    changed = dataclasses.replace(settings, wallet_provider_anchors=(TRUSTED.root,))
    with TestClient(app=create_app(changed), base_url=PUBLIC_BASE_URL) as client:
        sent = _authorize(client, new_instance())
        assert urlsplit(sent.headers["location"]).path.startswith(
            f"/issuers/{AGENCY}/presentation-login/"
        )
