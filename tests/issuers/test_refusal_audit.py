"""Protocol refusals reach the deployment's audit trail (``app.refusal_audit``): an
agency's token endpoint refusing a code and a counter's response endpoint refusing an
unknown request each append ``protocol.refused`` with the endpoint and the error code;
a request to a tenant that does not exist appends nothing, and no entry holds what the
request carried."""

from __future__ import annotations

import json
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import select

from core.storage.audit_trail import AuditEntryRow

CODE = "refused-code-5c1e9a"


def _refusals(client: TestClient[Any]) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    deployment = client.app.state.deployment

    async def read() -> list[tuple[str, str, str, str, dict[str, Any]]]:
        async with deployment.sessions() as session:
            rows = await session.execute(
                select(
                    AuditEntryRow.actor_kind,
                    AuditEntryRow.actor,
                    AuditEntryRow.action,
                    AuditEntryRow.outcome,
                    AuditEntryRow.facts,
                ).where(AuditEntryRow.action == "protocol.refused")
            )
            return [(k, a, act, o, json.loads(f)) for k, a, act, o, f in rows.all()]

    with client.portal() as portal:
        return portal.call(read)


def test_refusals_of_agencies_and_counters_are_in_the_trail(client: TestClient[Any]) -> None:
    grant = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
    token = client.post(
        "/issuers/civil-registry/token",
        data={"grant_type": grant, "pre-authorized_code": CODE},
    )
    assert token.status_code == 400, token.text
    assert token.json()["error"] == "invalid_grant"
    response = client.post(
        "/verifiers/bar-age-check/responses/no-such-request", data={"response": "x"}
    )
    assert response.status_code >= 400, response.text
    stranger = client.post(
        "/issuers/no-such-agency/token", data={"grant_type": grant, "pre-authorized_code": CODE}
    )
    assert stranger.status_code >= 400

    refusals = _refusals(client)
    assert (
        "agency",
        "civil-registry",
        "protocol.refused",
        "invalid_grant",
        {"endpoint": "token"},
    ) in refusals
    counter = [r for r in refusals if r[0] == "counter"]
    assert counter == [
        (
            "counter",
            "bar-age-check",
            "protocol.refused",
            response.json()["error"],
            {"endpoint": "responses/{request_id}"},
        )
    ]
    assert all(r[1] != "no-such-agency" for r in refusals)
    assert CODE not in repr(refusals) and "no-such-request" not in repr(refusals)
