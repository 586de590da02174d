"""One-time credentials (unlinkable presentations): a national ID received through the
authorization code flow, where the civil registry gives a refresh token, is shown one
copy at a time; when fewer than one unshown copy is left the housekeeping fetches a fresh
batch with the refresh token (key-attested, DPoP-bound, without the citizen), and the
copies shown are dropped. A revoked credential's refresh tokens are dead: its renewal is
refused and postponed, and nothing is lost."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from litestar.testing import TestClient

from app.settings import Settings
from tests.issuers.test_issuance import operator_key
from tests.verifiers.presenter import create_request
from tests.wallet.phone import Phone
from tests.wallet.test_authorization_code import (
    CIVIL,
    _browse,
    _start,
)
from wallet.services.renew_credential import renew_due_credentials


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, with the test authenticator: every citizen is demo-citizen."""
    return dataclasses.replace(settings, test_citizen="demo-citizen")


def _national_id(client: TestClient[Any]) -> tuple[Phone, str]:
    phone = Phone(client)
    phone.register()
    outcome = _start(phone, CIVIL, "national_id")
    received = phone.post(
        "/wallet/issuances/authorized",
        {"redirect_url": _browse(client, outcome["authorization_url"])},
    )
    assert received.status_code == 200, received.text
    return phone, received.json()["credentials"][0]["credential_id"]


def _present(client: TestClient[Any], phone: Phone) -> str:
    """Over 18 at the bar: the instance shown (its issuer signature)."""
    created = create_request(client, "bar-age-check", template="age_over_18")
    consent = phone.scan(created["uri"]).json()["presentation"]
    assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"
    return str(created["transaction_id"])


def _renew(client: TestClient[Any]) -> int:
    with client.portal() as portal:
        renewed: int = portal.call(renew_due_credentials, client.app.state.wallet)
    return renewed


def _shown(phone: Phone, credential_id: str) -> dict[str, Any]:
    shown: dict[str, Any] = phone.get(f"/wallet/credentials/{credential_id}").json()
    return shown


def test_a_fresh_batch_comes_before_the_copies_run_out(client: TestClient[Any]) -> None:
    phone, credential_id = _national_id(client)
    shown = _shown(phone, credential_id)
    assert (shown["use_policy"], shown["instances"], shown["fresh_instances"]) == (
        "one_time",
        3,
        3,
    )
    assert _renew(client) == 0  # nothing due yet
    _present(client, phone)
    _present(client, phone)
    assert _shown(phone, credential_id)["fresh_instances"] == 1
    assert _renew(client) == 1
    shown = _shown(phone, credential_id)
    # the two copies shown are gone; the one unshown and three fresh ones remain
    assert (shown["instances"], shown["fresh_instances"]) == (4, 4)
    assert shown["status"] == "valid" and shown["claims"]["family_name"]
    assert _renew(client) == 0
    for _ in range(3):
        _present(client, phone)
    assert _renew(client) == 1
    # each presentation showed a copy of its own, named in the activity log
    shared = [
        entry["shared"][0]
        for entry in phone.get("/wallet/activity").json()["activity"]
        if entry["kind"] == "presentation_sent"
    ]
    assert len(shared) == 5 and not any(s.get("linkable") for s in shared)
    assert len({s["instance"] for s in shared}) == 5


def test_a_revoked_credential_is_not_renewed(client: TestClient[Any]) -> None:
    phone, credential_id = _national_id(client)
    _present(client, phone)
    _present(client, phone)
    revoked = client.post(
        "/issuers/civil-registry/credentials/revoke",
        json={"subject_id": "demo-citizen", "reason": "lost"},
        headers={"Authorization": f"Bearer {operator_key(client, 'civil-registry')}"},
    )
    assert revoked.status_code == 200, revoked.text
    assert _renew(client) == 0
    shown = _shown(phone, credential_id)
    assert (shown["instances"], shown["fresh_instances"]) == (3, 1)
    assert _renew(client) == 0  # postponed, not asked again at once


def test_the_citizen_is_told_when_only_a_copy_shown_before_is_left(
    client: TestClient[Any],
) -> None:
    phone, _ = _national_id(client)
    for _ in range(3):  # no renewal: the housekeeping does not run here
        _present(client, phone)
    created = create_request(client, "bar-age-check", template="age_over_18")
    consent = phone.scan(created["uri"]).json()["presentation"]
    assert [c["linkable"] for c in consent["requests"][0]["candidates"]] == [True]
    assert any(w.startswith("linkable:") for w in consent["warnings"])
    assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"
    [last, before, *_] = [
        entry["shared"][0]
        for entry in phone.get("/wallet/activity").json()["activity"]
        if entry["kind"] == "presentation_sent"
    ]
    # the last copy again: the log says so, and names the copy both verifiers saw
    assert last["linkable"] and last["instance"] == before["instance"]


def test_the_activity_log_says_a_fresh_batch_read_the_register_again(
    client: TestClient[Any],
) -> None:
    """The issuer reads the register again for each fresh batch: the citizen's activity
    log says so, as a renewal, not as another issuance."""
    phone, credential_id = _national_id(client)
    _present(client, phone)
    _present(client, phone)
    assert _renew(client) == 1
    reads = [
        entry
        for entry in phone.get("/wallet/activity").json()["activity"]
        if entry["kind"] == "register_read"
    ]
    assert sorted(r["purpose"] for r in reads) == ["issue_credential", "refresh_credential"]
    assert all(r["credential_id"] == credential_id for r in reads)
