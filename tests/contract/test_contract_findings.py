"""What walking the document found: each finding kept as a test of its own.

- An operation whose body is optional (accepting an offer, approving a presentation) is
  documented as taking its message or ``null``; a client that sent ``null`` (as
  Schemathesis' stateful mode did) was refused with a 400 about the body, where no body at
  all is taken as the defaults. ``null`` is now the same as no body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from app import create_app
from app.migrate import upgrade
from app.settings import Settings
from app.typed_bodies import declared_message
from tests.contract.fuzz import DOCUMENT
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.wallet.phone import Phone

_OPTIONAL_BODIES = [
    "/wallet/offers/no-such-offer/accept",
    "/wallet/presentations/no-such-presentation/approve",
]


@pytest.fixture
def phone(var_dir: Path) -> Iterator[Phone]:
    database = f"sqlite+aiosqlite:///{var_dir / 'idwallet.db'}"
    upgrade(database)
    settings = Settings(var_dir=var_dir, database_url=database, public_base_url=PUBLIC_BASE_URL)
    with TestClient(app=create_app(settings), base_url=PUBLIC_BASE_URL) as client:
        phone = Phone(client)
        phone.register("findings phone")
        yield phone


@pytest.mark.parametrize("path", _OPTIONAL_BODIES)
def test_an_optional_body_left_out_is_taken_as_the_defaults(phone: Phone, path: str) -> None:
    answer = phone.client.post(path, headers=phone.headers)
    assert answer.status_code == 404, answer.text  # past the body: the object is unknown


@pytest.mark.parametrize("path", _OPTIONAL_BODIES)
def test_an_optional_body_sent_as_null_is_taken_as_the_defaults(phone: Phone, path: str) -> None:
    answer = phone.client.post(
        path, content=b"null", headers={**phone.headers, "Content-Type": "application/json"}
    )
    assert answer.status_code == 404, answer.text


def test_null_is_no_message_where_the_body_is_required(phone: Phone) -> None:
    answer = phone.client.post(
        "/wallet/scans",
        content=b"null",
        headers={**phone.headers, "Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"


def test_bodies_that_refuse_unknown_members_are_documented_closed() -> None:
    """Found by the stateful walk: bodies generated from the document carried members it
    allowed and the server refuses (400); a closed body now says so."""
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    closed = document["components"]["schemas"]
    app = create_app(Settings())
    messages = {
        message
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if (message := declared_message(handler)) is not None
    }
    refusing = {m.__name__ for m in messages if m.__struct_config__.forbid_unknown_fields}
    assert refusing, "no body refuses unknown members"
    open_ = sorted(n for n in refusing if closed[n].get("additionalProperties") is not False)
    assert not open_, f"bodies that refuse unknown members but are documented open: {open_}"
