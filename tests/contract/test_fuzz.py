"""Every operation of the checked-in OpenAPI document, fuzzed against a real server on
SQLite and on PostgreSQL (see ``tests/contract/fuzz.py`` for what is sent and checked).
A module run writes what it found per database to ``test-artifacts/contract-fuzz/``."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings

from tests.conftest import backend_url, migrated_database
from tests.contract.fuzz import (
    DOCUMENT,
    NOT_YET_CONFORMING,
    RATE_LIMITS,
    REQUEST_TIMEOUT,
    TIME_BUDGET,
    Fuzzer,
    link_count,
    load_schema,
    prepare,
    write_report,
)
from tests.support.server import running_server

_DOCUMENT: dict[str, Any] = json.loads(DOCUMENT.read_text())

# Operations known to answer some input with a 5xx or too slowly, with why: each is
# reported as an expected failure until it is fixed. Empty means none may.
KNOWN_FAILURES: dict[str, str] = {}

# Operations that use up or take away the objects the others name (a credential, the
# citizen's account or devices, credential statuses) run last.
_LAST = ("changeCredentialStatus", "deleteCredential", "revokeDevice", "deleteAccount")


def _operation_ids() -> list[str]:
    ids = [
        str(operation["operationId"])
        for item in _DOCUMENT["paths"].values()
        for method, operation in item.items()
        if isinstance(operation, dict) and method != "parameters"
    ]
    return [i for i in ids if i not in _LAST] + [i for i in _LAST if i in ids]


def _params() -> list[Any]:
    return [
        pytest.param(
            operation_id,
            marks=[pytest.mark.xfail(reason=KNOWN_FAILURES[operation_id], strict=False)]
            if operation_id in KNOWN_FAILURES
            else [],
        )
        for operation_id in _operation_ids()
    ]


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def fuzzer(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzzer]:
    database: str = request.param
    tmp = tmp_path_factory.mktemp(f"fuzz-{database}")
    url = backend_url(database, tmp)
    if database == "postgresql":
        url = migrated_database(url)
    var_dir = tmp / "var"
    var_dir.mkdir()
    started = time.monotonic()
    with (
        running_server(
            var_dir, IDWALLET_DATABASE_URL=url, IDWALLET_RATE_LIMITS=RATE_LIMITS
        ) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as client,
    ):
        deployment = prepare(server.base_url, var_dir, database, client)
        fuzzer = Fuzzer(deployment, load_schema(server.base_url))
        yield fuzzer
        write_report(database, fuzzer, time.monotonic() - started)


@pytest.mark.parametrize("operation_id", _params())
def test_operation_withstands_fuzzing(fuzzer: Fuzzer, operation_id: str) -> None:
    """No 5xx, every answer within the time budget; conformance to the document unless the
    operation is known not to conform yet."""
    run = fuzzer.run(operation_id)
    assert run.requests > 0, f"{operation_id}: nothing could be generated"
    assert not run.server_errors, f"{operation_id} answered with a server error:\n" + "\n".join(
        run.server_errors
    )
    assert not run.over_budget, f"{operation_id} took longer than {TIME_BUDGET} s:\n" + "\n".join(
        run.over_budget
    )
    if operation_id in NOT_YET_CONFORMING:
        if not run.nonconforming:
            warnings.warn(
                f"{operation_id} conforms now: take it out of NOT_YET_CONFORMING", stacklevel=1
            )
    else:
        assert not run.nonconforming, f"{operation_id} does not conform to the document:\n" + (
            json.dumps(run.nonconforming, indent=2, ensure_ascii=False)
        )


def test_stateful_through_links(fuzzer: Fuzzer) -> None:
    """Sequences of calls that follow the document's links, under the same hard checks."""
    links = link_count(_DOCUMENT)
    if not links:
        pytest.skip("the OpenAPI document declares no links: there is no sequence to follow")
    from schemathesis.checks import not_a_server_error

    machine = fuzzer.schema.as_state_machine()

    def call_kwargs(_: object, case: Any) -> dict[str, Any]:
        return {
            "base_url": fuzzer.deployment.base_url,
            "headers": fuzzer.headers(case.operation, case, fuzzer.deployment.citizen),
            "timeout": REQUEST_TIMEOUT,
        }

    def validate(_: object, response: Any, case: Any, **__: Any) -> None:
        case.validate_response(response, checks=[not_a_server_error])
        assert response.elapsed <= TIME_BUDGET, f"{case.operation.label}: {response.elapsed} s"

    setattr(machine, "get_call_kwargs", call_kwargs)  # noqa: B010
    setattr(machine, "validate_response", validate)  # noqa: B010
    machine.run(
        settings=settings(
            max_examples=20,
            derandomize=True,
            database=None,
            deadline=None,
            stateful_step_count=6,
            suppress_health_check=list(HealthCheck),
        )
    )
