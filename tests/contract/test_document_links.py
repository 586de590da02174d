"""The links of the checked-in OpenAPI document lead somewhere: each names an operation
that exists, fills only parameters that operation has, reads values from where the source
response really has them, and sends a body the target operation accepts. And every mobile
operation that names an object in its path is reached by a link, so a client can walk a
citizen's whole journey."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema_rs
import pytest
from litestar.openapi.spec import Link

from app import create_app
from app.openapi_links import MOBILE_LINKS
from app.settings import Settings
from tests.contract.fuzz import DOCUMENT, link_count

_DOCUMENT: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
_EXPRESSION = re.compile(r"^\$(?:url|method|statusCode|request\.|response\.)")


def _operations() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every operation of the document by operationId, with its path."""
    return {
        operation["operationId"]: (path, operation)
        for path, item in _DOCUMENT["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and method != "parameters"
    }


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = _DOCUMENT["components"]["schemas"][name]
    return schema


def _has_pointer(schema: dict[str, Any], tokens: list[str]) -> bool:
    """Whether a value of ``schema`` can have something at the JSON pointer ``tokens``."""
    schema = _resolve(schema)
    if not tokens:
        return True
    alternatives = schema.get("oneOf", []) + schema.get("anyOf", [])
    if alternatives:
        return any(_has_pointer(alternative, tokens) for alternative in alternatives)
    token, rest = tokens[0], tokens[1:]
    if token.isdigit() and "items" in schema:
        return _has_pointer(schema["items"], rest)
    properties = schema.get("properties", {})
    return token in properties and _has_pointer(properties[token], rest)


def _expressions(value: Any) -> list[str]:
    """The runtime expressions in a link's parameter value or body."""
    if isinstance(value, str):
        return [value] if _EXPRESSION.match(value) else []
    if isinstance(value, dict):
        return [e for item in value.values() for e in _expressions(item)]
    if isinstance(value, list):
        return [e for item in value for e in _expressions(item)]
    return []


def _links() -> list[tuple[str, str, str, dict[str, Any]]]:
    """(source operationId, status, link name, link) for every link of the document."""
    return [
        (operation["operationId"], status, name, link)
        for _, operation in _operations().values()
        for status, answer in operation["responses"].items()
        for name, link in answer.get("links", {}).items()
    ]


def _problems(source: str, status: str, link: dict[str, Any]) -> list[str]:
    operations = _operations()
    source_path, source_operation = operations[source]
    target = link.get("operationId")
    if target not in operations:
        return [f"names no existing operation ({target!r})"]
    problems: list[str] = []
    _, target_operation = operations[target]
    parameters = target_operation.get("parameters", [])
    accepted = {p["name"] for p in parameters} | {f"{p['in']}.{p['name']}" for p in parameters}
    for name in link.get("parameters", {}):
        if name not in accepted:
            problems.append(f"fills {name!r}, which {target} does not have")
    filled = {name.rsplit(".", 1)[-1] for name in link.get("parameters", {})}
    required = {p["name"] for p in parameters if p.get("required")} - filled
    if required:
        problems.append(f"leaves {target}'s required {sorted(required)} unfilled")
    if "requestBody" in link:
        body = target_operation.get("requestBody")
        if body is None:
            problems.append(f"sends a body, which {target} does not take")
        else:
            problems.extend(_body_problems(target, link["requestBody"], body))
    answer = source_operation["responses"][status]
    source_schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
    source_parameters = {p["name"] for p in source_operation.get("parameters", [])}
    values = [*link.get("parameters", {}).values(), link.get("requestBody")]
    for expression in [e for value in values for e in _expressions(value)]:
        if expression.startswith("$response.body#"):
            pointer = expression.removeprefix("$response.body#")
            tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
            if not _has_pointer(source_schema, tokens):
                problems.append(f"reads {expression}, which {source}'s {status} never has")
        elif expression.startswith("$request.path."):
            if expression.removeprefix("$request.path.") not in source_parameters:
                problems.append(f"reads {expression}, not a parameter of {source_path}")
        else:
            problems.append(f"uses {expression}, which this document does not use")
    return problems


def _body_problems(target: str, literal: Any, body: dict[str, Any]) -> list[str]:
    """A link's body, its expressions standing in for strings, fits ``target``'s body."""

    def standing_in(value: Any) -> Any:
        if isinstance(value, str) and _EXPRESSION.match(value):
            return "x"
        if isinstance(value, dict):
            return {k: standing_in(v) for k, v in value.items()}
        if isinstance(value, list):
            return [standing_in(v) for v in value]
        return value

    schema = body["content"]["application/json"]["schema"]
    validator = jsonschema_rs.Draft202012Validator(
        {**schema, "components": _DOCUMENT["components"]}, validate_formats=True
    )
    return [
        f"sends a body {target} refuses: {error.message}"
        for error in validator.iter_errors(standing_in(literal))
    ]


def test_the_document_declares_links() -> None:
    assert link_count(_DOCUMENT) >= sum(
        len(links) for statuses in MOBILE_LINKS.values() for links in statuses.values()
    )


@pytest.mark.parametrize(
    ("source", "status", "name"),
    [(source, status, name) for source, status, name, _ in _links()],
)
def test_each_link_leads_to_an_existing_operation_with_its_parameters(
    source: str, status: str, name: str
) -> None:
    link = _DOCUMENT["paths"][_operations()[source][0]]
    (operation,) = [o for o in link.values() if o.get("operationId") == source]
    problems = _problems(source, status, operation["responses"][status]["links"][name])
    assert not problems, f"{source} {status} -> {name}: " + "; ".join(problems)


def test_every_mobile_operation_on_a_named_object_is_reached_by_a_link() -> None:
    targets = {link["operationId"] for _, _, _, link in _links()}
    on_objects = {
        operation_id
        for operation_id, (path, _) in _operations().items()
        if path.startswith("/wallet/") and "{" in path
    }
    assert on_objects - targets == set()


@pytest.mark.parametrize(
    ("link", "found"),
    [
        ({"operationId": "noSuchOperation"}, "names no existing operation"),
        (
            {"operationId": "getCredential", "parameters": {"device_id": "$request.path.x"}},
            "fills 'device_id', which getCredential does not have",
        ),
        (
            {"operationId": "getCredential", "parameters": {}},
            "leaves getCredential's required ['credential_id'] unfilled",
        ),
        (
            {
                "operationId": "revokeDevice",
                "parameters": {"device_id": "$response.body#/devices/0/name_of_nothing"},
            },
            "reads $response.body#/devices/0/name_of_nothing, which listDevices's 200 never has",
        ),
        (
            {"operationId": "refreshSession", "requestBody": {"refresh_token": 5}},
            "sends a body refreshSession refuses",
        ),
        (
            {"operationId": "listCredentials", "requestBody": {}},
            "sends a body, which listCredentials does not take",
        ),
    ],
    ids=[
        "unknown-operation",
        "unknown-parameter",
        "required-parameter-unfilled",
        "value-the-answer-never-has",
        "body-the-target-refuses",
        "body-for-an-operation-without-one",
    ],
)
def test_a_link_that_leads_nowhere_is_found(link: dict[str, Any], found: str) -> None:
    problems = _problems("listDevices", "200", link)
    assert any(problem.startswith(found) for problem in problems), problems


def test_links_from_an_operation_that_does_not_exist_stop_the_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        MOBILE_LINKS, "noSuchOperation", {200: {"x": Link(operation_id="listDevices")}}
    )
    with pytest.raises(LookupError, match="noSuchOperation"):
        create_app(Settings())


def test_links_on_a_response_that_is_not_documented_stop_the_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(MOBILE_LINKS, "listDevices", {299: {"x": Link(operation_id="login")}})
    with pytest.raises(LookupError, match="listDevices documents no 299 response"):
        create_app(Settings()).openapi_schema  # noqa: B018 - building the document is the test
