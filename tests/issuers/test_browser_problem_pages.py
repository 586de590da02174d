"""A browser that reaches an agency's authorization endpoints with what the agency cannot tie
to a wallet's request (an unknown, used or expired request_uri at the authorization
endpoint; an unknown or forged state at the eID login's callback, the presentation page's
completion or cancel, the choice of a way) has no wallet to go back to: it is shown a page
in plain words (English first; the page carries German too), with the same status as the
JSON error, which API clients keep exactly as before. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from app import create_app
from app.settings import Settings
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.issuers.test_authorization_endpoints import TRUSTED
from tests.issuers.test_presentation_login import _to_the_page
from tests.support.wallet_provider import CLIENT_ID, new_instance
from web.pages import PROBLEM_KINDS

#: What Chromium sends when it navigates to a page.
BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
}
UNKNOWN_REQUEST = "urn:ietf:params:oauth:request_uri:made-up"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    changed = dataclasses.replace(settings, wallet_provider_anchors=(TRUSTED.root,))
    with TestClient(app=create_app(changed), base_url=PUBLIC_BASE_URL) as client:
        yield client


def _shown(page: str) -> list[str]:
    """The data-problem paragraphs the page shows (not hidden)."""
    return re.findall(r'<p data-problem="([a-z-]+)"', page)


def problem_page_shown(answer: Any, kind: str) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert _shown(answer.text) == [kind]
    assert "This request cannot go on" in answer.text
    assert "Diese Anfrage kann nicht fortgesetzt werden" in answer.text  # the German too
    assert "location" not in answer.headers  # never redirected (RFC 6749 §4.1.2.1)


def _authorize(client: TestClient[Any], **headers: str) -> Any:
    return client.get(
        "/issuers/transport-agency/authorize",
        params={"client_id": CLIENT_ID, "request_uri": UNKNOWN_REQUEST},
        headers=headers,
        follow_redirects=False,
    )


def test_an_unknown_request_uri_shows_a_browser_a_page(client: TestClient[Any]) -> None:
    problem_page_shown(_authorize(client, **BROWSER), "request")
    # without the request_uri at all: the same page
    bare = client.get("/issuers/transport-agency/authorize", headers=BROWSER)
    problem_page_shown(bare, "request")


def test_api_clients_keep_the_json_error(client: TestClient[Any]) -> None:
    for headers in ({}, {"Accept": "application/json"}, {"Accept": "application/json, text/html"}):
        answer = _authorize(client, **headers)
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json() == {
            "error": "invalid_request",
            "error_description": "the request_uri is unknown, used or expired; push the "
            "request again",
        }


def test_an_eid_callback_the_agency_cannot_take_shows_a_page(client: TestClient[Any]) -> None:
    """Here no eID provider is configured (``test_eid_login`` has a forged state where one
    is)."""
    answer = client.get(
        "/issuers/civil-registry/eid/callback",
        params={"state": "0b5e0a2c-2f37-4a43-9d4b-5b8c7f0e1d2a.forged", "code": "x"},
        headers=BROWSER,
    )
    problem_page_shown(answer, "eid-login")


def test_a_forged_presentation_page_state_shows_a_page(client: TestClient[Any]) -> None:
    page = _to_the_page(client, new_instance())
    authorization_id = page.rsplit("/", 1)[1].split(".")[0]
    forged = f"/issuers/transport-agency/presentation-login/{authorization_id}.AAAA"
    for path in ("/complete", "/cancel"):
        problem_page_shown(client.get(f"{forged}{path}", headers=BROWSER), "identity-check")
    # the page's own calls (fetch, JSON) keep the JSON error
    status = client.get(f"{forged}/status")
    assert status.status_code == 400 and status.json()["error"] == "invalid_request"


def test_a_forged_choice_shows_a_page(client: TestClient[Any]) -> None:
    forged = "/issuers/transport-agency/sign-in/not-a-choice"
    for path in ("/choose?way=eid_login", "/cancel"):
        problem_page_shown(client.get(f"{forged}{path}", headers=BROWSER), "sign-in")


def test_every_endpoint_with_a_page_names_one_that_exists(client: TestClient[Any]) -> None:
    named = {
        handler.opt["browser_problem"]
        for route in client.app.routes
        for handler in getattr(route, "route_handlers", ())
        if "browser_problem" in handler.opt
    }
    assert named == set(PROBLEM_KINDS)
