"""Every operation of the citizen mobile API shows a phone team what to send and what comes
back: its request body has an example (each member's own, as documentation tools put them
together) and its success response has whole examples. Each example fits its schema in the
checked-in document, with no member the schema does not name, and is read by the server's
own message struct."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema_rs
import msgspec
import pytest

from core.messages import Message
from tests.contract.fuzz import DOCUMENT
from wallet.services import (
    account_messages,
    activity_messages,
    holding_messages,
    interaction_messages,
    mediation_messages,
    notification_messages,
    provider_messages,
)

_DOCUMENT: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
_MODULES = (
    account_messages,
    activity_messages,
    holding_messages,
    interaction_messages,
    notification_messages,
    mediation_messages,
    provider_messages,
)


def _closed(schemas: dict[str, Any]) -> dict[str, Any]:
    """The component schemas with every object closed to members it does not name."""

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    closed = copy.deepcopy(schemas)
    close(closed)
    return closed


_COMPONENTS = {"schemas": _closed(_DOCUMENT["components"]["schemas"])}


def _mobile_operations() -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for path, item in _DOCUMENT["paths"].items()
        if path.startswith("/wallet/")
        for method, operation in item.items()
        if isinstance(operation, dict) and method != "parameters"
    }


def _component(schema: dict[str, Any]) -> str:
    """The message a body or answer is (an optional body: the message, or nothing)."""
    (reference,) = [s["$ref"] for s in schema.get("oneOf", [schema]) if "$ref" in s]
    return str(reference).removeprefix("#/components/schemas/")


def _struct(name: str) -> type[Message]:
    for module in _MODULES:
        found = getattr(module, name, None)
        if isinstance(found, type) and issubclass(found, Message):
            return found
    raise LookupError(f"no message struct {name} in the mobile API's messages")


def _problems(name: str, example: Any) -> list[str]:
    """Why ``example`` is not a ``name`` message: against the document, then the struct."""
    validator = jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": _COMPONENTS}
    )
    problems = [
        f"{error.instance_path}: {error.message}" for error in validator.iter_errors(example)
    ]
    try:
        msgspec.json.decode(msgspec.json.encode(example), type=_struct(name), strict=True)
    except msgspec.ValidationError as error:
        problems.append(f"the server's struct refuses it: {error}")
    return problems


def _success(operation: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The success response with a JSON body, if the operation answers one (a stream of
    server-sent events has no example to fit)."""
    for status, answer in operation["responses"].items():
        if status.startswith("2") and "application/json" in answer.get("content", {}):
            return status, answer
    return None


_WITH_BODY = sorted(o for o, op in _mobile_operations().items() if "requestBody" in op)
_WITH_ANSWER = sorted(o for o, op in _mobile_operations().items() if _success(op))


def test_the_mobile_api_has_bodies_and_answers_to_show() -> None:
    assert len(_WITH_BODY) >= 10 and len(_WITH_ANSWER) >= 18
    assert set(_mobile_operations()) - set(_WITH_ANSWER) == {
        "revokeDevice",
        "deleteAccount",
        "streamNotifications",
        "endMediation",
    }


@pytest.mark.parametrize("operation_id", _WITH_BODY)
def test_each_request_body_has_an_example_that_fits(operation_id: str) -> None:
    operation = _mobile_operations()[operation_id]
    name = _component(operation["requestBody"]["content"]["application/json"]["schema"])
    properties = _DOCUMENT["components"]["schemas"][name]["properties"]
    without = sorted(member for member, schema in properties.items() if not schema.get("examples"))
    assert not without, f"{operation_id}: {name} members without an example: {without}"
    example = {member: schema["examples"][0] for member, schema in properties.items()}
    problems = _problems(name, example)
    assert not problems, f"{operation_id}: the example {name} does not fit: {problems}"


@pytest.mark.parametrize("operation_id", _WITH_ANSWER)
def test_each_success_response_has_examples_that_fit(operation_id: str) -> None:
    found = _success(_mobile_operations()[operation_id])
    assert found is not None
    status, answer = found
    content = answer["content"]["application/json"]
    name = _component(content["schema"])
    examples = [shown["value"] for shown in content.get("examples", {}).values()]
    assert examples, f"{operation_id}: its {status} answer has no example"
    for example in examples:
        problems = _problems(name, example)
        assert not problems, f"{operation_id}: an example {name} does not fit: {problems}"


@pytest.mark.parametrize(
    ("name", "example"),
    [
        ("ScannedText", {"uri": ""}),
        ("ScannedText", {"uri": "openid4vp://?request_uri=x", "kind": "offer"}),
        ("OfferOutcome", {"offer_id": "f-1"}),
        ("SessionGranted", {"account_id": "a", "device_id": "d", "access_token": 5}),
    ],
    ids=["too-short", "unknown-member", "required-member-missing", "wrong-type"],
)
def test_an_example_that_does_not_fit_is_found(name: str, example: Any) -> None:
    assert _problems(name, example)
