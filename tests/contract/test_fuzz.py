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

from tests.conftest import backend_url, migrated_database
from tests.contract.fuzz import (
    DOCUMENT,
    NOT_YET_CONFORMING,
    RATE_LIMITS,
    TIME_BUDGET,
    WALKS,
    Fuzzer,
    auditor_key,
    link_count,
    load_schema,
    prepare,
    walk_journeys,
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
        deployment = prepare(server.base_url, var_dir, database, client, server.env)
        deployment.keys["auditor:fuzz"] = auditor_key(server.env)
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


def test_every_linked_operation_is_walked() -> None:
    """A link the document declares is followed by one of the walks: both its ends are
    operations of the same walk."""
    unwalked = []
    for item in _DOCUMENT["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            source = operation.get("operationId")
            for answer in operation.get("responses", {}).values():
                for link in answer.get("links", {}).values():
                    target = link["operationId"]
                    if not any({source, target} <= set(walk.operations) for walk in WALKS.values()):
                        unwalked.append(f"{source} -> {target}")
    assert not unwalked, f"links no walk follows: {unwalked}"


def test_citizen_journeys_follow_the_links(fuzzer: Fuzzer) -> None:
    """Schemathesis' stateful mode walks the document's links as citizens do (scan, accept,
    read, delete; scan, approve or decline; list and revoke devices; refresh the session),
    under the same checks as every operation: no 5xx, within the time budget, conforming."""
    assert link_count(_DOCUMENT), "the document declares no links to follow"
    run = walk_journeys(fuzzer.deployment)
    summary = json.dumps(run.as_json(), indent=2, ensure_ascii=False)
    scenarios = sum(walk.scenarios() for walk in WALKS.values())
    assert run.scenarios >= scenarios and run.steps >= 2 * run.scenarios, summary
    assert not run.server_errors, "a journey met a server error:\n" + summary
    assert not run.over_budget, f"a journey met an answer slower than {TIME_BUDGET} s:\n{summary}"
    assert not run.nonconforming, "a journey met an answer off the document:\n" + summary
    # the links lead somewhere: each of the citizen's journeys went through along one
    reached = {
        followed.split(" -> ")[1]
        for followed in run.followed
        if followed.endswith((" 200", " 204"))
    }
    missed = sorted(
        name
        for walk in WALKS.values()
        for name, moves in walk.journeys.items()
        if not moves & reached
    )
    assert not missed, f"no link led through {missed}:\n{summary}"
