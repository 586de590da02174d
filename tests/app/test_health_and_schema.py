"""The app serves /health, /ready and its OpenAPI document; errors are OAuth JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app import create_app
from app.migrate import upgrade
from app.openapi_document import render_openapi
from app.settings import Settings
from web.api_docs import SWAGGER_UI_VERSION
from web.pages import CONTENT_SECURITY_POLICY

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(var_dir: Path) -> Settings:
    db = f"sqlite+aiosqlite:///{var_dir / 'idwallet.db'}"
    upgrade(db)
    return Settings(var_dir=var_dir, database_url=db)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(app=create_app(settings)) as client:
        yield client


def test_health_and_ready(client: TestClient) -> None:  # type: ignore[type-arg]
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


def test_ready_reports_an_unreachable_database_as_503(var_dir: Path) -> None:
    # Nothing listens on port 1: the app starts anyway and says it is not ready.
    settings = Settings(
        var_dir=var_dir, database_url="postgresql+asyncpg://idwallet@127.0.0.1:1/none"
    )
    with TestClient(app=create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["status"] == "unavailable"


def test_schema_ui_and_document(client: TestClient) -> None:  # type: ignore[type-arg]
    ui = client.get("/schema")
    assert ui.status_code == 200
    assert "text/html" in ui.headers["content-type"]
    # the screens' policy, and a page it allows: no inline script or style, nothing remote
    assert ui.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert ui.headers["cache-control"] == "no-store"
    assert "<script>" not in ui.text and "<style" not in ui.text
    assert "//" not in ui.text.replace("<!doctype", "")
    document = client.get("/schema/openapi.json").json()
    assert document["info"]["title"] == "idwallet"
    assert "/health" in document["paths"]
    assert not any(path.startswith("/schema") for path in document["paths"])


def test_schema_ui_assets_are_served_from_the_deployment(client: TestClient) -> None:  # type: ignore[type-arg]
    page = client.get("/schema").text
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(urls) == 4, urls  # the icon, Swagger UI's CSS and script, the start-up script
    types = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "immutable" in response.headers["cache-control"], url
        types[url.rsplit("/", 1)[1]] = response.headers["content-type"]
    assert types == {
        "favicon-32x32.png": "image/png",
        "swagger-ui.css": "text/css; charset=utf-8",
        "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
        "api-docs.js": "text/javascript; charset=utf-8",
    }
    assert client.get(f"/schema/assets/{SWAGGER_UI_VERSION}/index.html").status_code == 404
    assert client.get("/schema/assets/0.0.1/swagger-ui-bundle.js").status_code == 404
    assert client.get("/schema/scalar").status_code == 404  # no page that needs a CDN


def test_unknown_route_is_a_json_error_not_a_stack_trace(client: TestClient) -> None:  # type: ignore[type-arg]
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json()["error"] == "invalid_request"
    assert response.headers["cache-control"] == "no-store"


def test_checked_in_openapi_document_matches_the_app() -> None:
    checked_in = (ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8")
    current = render_openapi()
    assert json.loads(checked_in) == json.loads(current), (
        "openapi/openapi.json is out of date: regenerate it with `make openapi`"
    )


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    document = json.loads((ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    ]


def test_every_operation_has_a_stable_readable_operation_id() -> None:
    ids = [operation.get("operationId", "") for _, _, operation in _operations()]
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*", i) for i in ids), ids
    assert len(set(ids)) == len(ids)


#: Operations anyone may call: the protocol endpoints a wallet reaches before it holds a
#: token, the mobile API's way in (challenge, registration, login, refresh), and the
#: wallet provider's public trust material.
UNAUTHENTICATED_MOBILE = {
    "createChallenge",
    "registerAccount",
    "login",
    "refreshSession",
    "getWalletProvider",
}


def test_operations_behind_a_key_or_token_declare_their_security_scheme() -> None:
    expected = {
        "agency operator API": "operatorKey",
        "counter API": "counterKey",
        "citizen mobile API": "citizenSession",
    }
    for method, path, operation in _operations():
        tag = operation["tags"][0]
        declared = [name for requirement in operation.get("security", []) for name in requirement]
        if operation["operationId"] in {"issueCredential", "notifyCredentialEvent"}:
            assert declared == ["accessToken"], (method, path)
        elif tag in expected and operation["operationId"] not in UNAUTHENTICATED_MOBILE:
            if operation["operationId"] == "releaseSameDeviceResult":
                continue  # the starting session's own token, not a counter key
            assert declared == [expected[tag]], (method, path)


def test_errors_are_documented_as_the_api_sends_them() -> None:
    """OAuth error JSON on the protocol endpoints and the mobile API, problem details on
    the operator, counter and oversight APIs (and on the mobile API the 403 a mediator's
    token gets); never the framework's own error body."""
    problem_tags = {"agency operator API", "counter API", "oversight API"}
    for method, path, operation in _operations():
        if operation["operationId"] == "checkReadiness":
            continue  # the readiness probe's own body, for load balancers
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            (media_type, content), *_ = response["content"].items()
            reference = content["schema"]["$ref"]
            if operation["tags"][0] in problem_tags:
                assert (media_type, reference) == (
                    "application/problem+json",
                    "#/components/schemas/ProblemDetails",
                ), (method, path, status)
            elif status == "403" and media_type == "application/problem+json":
                # a mediator's token refused (docs/mediators.md): the mobile API's one problem
                assert path.startswith("/wallet/"), (method, path, status)
                assert reference == "#/components/schemas/MediationRefusal", (method, path)
            else:
                assert reference == "#/components/schemas/ErrorResponse", (method, path, status)


def test_every_request_body_is_a_documented_schema() -> None:
    """A message of the components, or that message encrypted (OpenID4VCI 1.0 §10): a
    string of the compact JWE form."""
    for method, path, operation in _operations():
        if "requestBody" not in operation:
            continue
        for media_type, content in operation["requestBody"]["content"].items():
            schema = content["schema"]
            if media_type == "application/jwt":
                assert schema["type"] == "string" and schema["pattern"], (method, path)
                assert "application/json" in operation["requestBody"]["content"], (method, path)
                continue
            # an optional body: the message, or nothing
            refs = [s["$ref"] for s in schema.get("oneOf", [schema]) if "$ref" in s]
            assert len(refs) == 1 and refs[0].startswith("#/components/schemas/"), (method, path)


def test_component_schema_names_are_plain_message_names() -> None:
    """Two messages of one name in two roles get module-qualified names in the document,
    which client generators refuse: shared messages live once, in core.messages."""
    document = json.loads((ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
    names = list(document["components"]["schemas"])
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]*", name) for name in names), names
