"""Revoke, suspend and unsuspend: by credential, by citizen, by the status reference
inside a presented credential; the published status list follows; the audit trail
records every operator action."""

from __future__ import annotations

import json
from typing import Any

from litestar.testing import TestClient

from core.encoding import b64url_decode
from core.status_list.bits import INVALID, SUSPENDED, VALID, StatusList
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer, operator_key
from tests.issuers.wallet import Wallet, path_of


def _issue(
    client: TestClient[Any], subject: str = "citizen-7", batch: int = 1
) -> list[dict[str, Any]]:
    created = create_offer(client, "civil-registry", "national_id", CITIZEN, subject=subject)
    _, credentials, _ = Wallet(client).receive(created["offer_uri"], batch=batch)
    return [
        json.loads(b64url_decode(c.split("~")[0].split(".")[1]))["status"]["status_list"]
        for c in credentials
    ]


def _published_status(client: TestClient[Any], reference: dict[str, Any]) -> int:
    token = client.get(path_of(reference["uri"])).text
    payload = json.loads(b64url_decode(token.split(".")[1]))
    return StatusList.from_json(payload["status_list"]).get(reference["idx"])


def _act(
    client: TestClient[Any],
    action: str,
    issuer: str = "civil-registry",
    key_of: str | None = None,
    **body: Any,
) -> Any:
    return client.post(
        f"/issuers/{issuer}/credentials/{action}",
        json=body,
        headers={"Authorization": f"Bearer {operator_key(client, key_of or issuer)}"},
    )


def test_suspend_unsuspend_revoke_by_status_reference(client: TestClient[Any]) -> None:
    (reference,) = _issue(client)
    selector = {"status_uri": reference["uri"], "status_idx": reference["idx"]}
    assert _published_status(client, reference) == VALID
    suspended = _act(client, "suspend", reason="document reported lost", **selector)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["changed"][0]["status"] == "suspended"
    assert _published_status(client, reference) == SUSPENDED
    assert _act(client, "unsuspend", **selector).json()["changed"][0]["status"] == "valid"
    assert _published_status(client, reference) == VALID
    assert _act(client, "revoke", **selector).json()["changed"][0]["status"] == "revoked"
    assert _published_status(client, reference) == INVALID
    final = _act(client, "unsuspend", **selector).json()
    assert final["changed"] == [] and final["unchanged"] == 1  # revocation is final
    assert _published_status(client, reference) == INVALID


def test_revoke_everything_of_a_subject_leaves_others_alone(client: TestClient[Any]) -> None:
    mine = _issue(client, subject="citizen-A", batch=2)
    theirs = _issue(client, subject="citizen-B")
    result = _act(client, "revoke", subject_id="citizen-A").json()
    assert len(result["changed"]) == 2
    assert [_published_status(client, r) for r in mine] == [INVALID, INVALID]
    assert _published_status(client, theirs[0]) == VALID
    overview = client.get(
        "/issuers/civil-registry/subjects/citizen-A",
        headers={"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"},
    ).json()
    assert [c["status"] for c in overview["credentials"]] == ["revoked", "revoked"]
    assert overview["offers"][0]["state"] == "redeemed"


def test_revoke_by_credential_id_and_audit_trail(client: TestClient[Any]) -> None:
    _issue(client, subject="citizen-C")
    key = operator_key(client, "civil-registry")
    overview = client.get(
        "/issuers/civil-registry/subjects/citizen-C", headers={"Authorization": f"Bearer {key}"}
    ).json()
    credential_id = overview["credentials"][0]["credential_id"]
    assert _act(client, "revoke", credential_id=credential_id, reason="deceased").status_code == 200
    events = client.get(
        "/issuers/civil-registry/audit", headers={"Authorization": f"Bearer {key}"}
    ).json()["events"]
    assert events[0]["action"] == "credential.revoke" and events[0]["object_id"] == credential_id
    assert events[0]["outcome"] == "1 changed, 0 unchanged" and events[0]["detail"] == "deceased"
    assert any(e["action"] == "offer.create" for e in events)


def test_an_agency_cannot_touch_another_agencys_credentials(client: TestClient[Any]) -> None:
    (reference,) = _issue(client, subject="citizen-D")
    selector = {"status_uri": reference["uri"], "status_idx": reference["idx"]}
    assert _act(client, "revoke", key_of="transport-agency", **selector).status_code == 401
    other = _act(client, "revoke", issuer="transport-agency", **selector)
    assert other.status_code == 400  # not one of the transport agency's lists
    assert _published_status(client, reference) == VALID


def test_bad_selections_are_problems(client: TestClient[Any]) -> None:
    for body in (
        {},
        {"credential_id": "a", "subject_id": "b"},
        {"status_uri": "https://evil/x", "status_idx": 1},
        {"subject_id": 5},
    ):
        response = _act(client, "revoke", **body)
        assert response.status_code == 400, body
        assert response.headers["content-type"].startswith("application/problem+json")
    assert _act(client, "revoke", credential_id="nope").status_code == 404
    assert _act(client, "destroy", credential_id="x").status_code == 404
