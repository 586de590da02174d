"""A one-time mdoc: the national ID as a PID mdoc received through the authorization code
flow (the civil registry gives a refresh token) is shown one copy at a time to the
stand-in verifier; the housekeeping's fresh batch re-requests the configuration, and the
fresh mdocs are verified as on receipt before they join the credential, then presented."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app.settings import Settings
from core.mdoc import verify_device_response
from tests.wallet.mdoc_verifier import MdocVerifier, mdoc_query
from tests.wallet.phone import Phone
from tests.wallet.stand_ins import StandIns, running_stand_ins, settings_with_stand_ins
from tests.wallet.test_authorization_code import CIVIL, _browse, _start
from tests.wallet.test_mdoc_presentation import anchor, transcript_of
from tests.wallet.test_one_time_credentials import _renew, _shown

PID = "eu.europa.ec.eudi.pid.1"


@pytest.fixture
def stand_ins() -> Iterator[StandIns]:
    with running_stand_ins() as running:
        yield running


@pytest.fixture
def settings(var_dir: Path, database_url: str, stand_ins: StandIns) -> Settings:
    settings: Settings = settings_with_stand_ins(var_dir, database_url, stand_ins)
    return dataclasses.replace(settings, test_citizen="demo-citizen")


def test_a_one_time_mdoc_is_renewed_with_verified_mdocs(
    client: TestClient[Any], stand_ins: StandIns, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = MdocVerifier(stand_ins, monkeypatch)
    phone = Phone(client)
    phone.register()
    outcome = _start(phone, CIVIL, "national_id_mdoc")
    received = phone.post(
        "/wallet/issuances/authorized",
        {"redirect_url": _browse(client, outcome["authorization_url"])},
    )
    assert received.status_code == 200, received.text
    credential_id = received.json()["credentials"][0]["credential_id"]
    shown = _shown(phone, credential_id)
    assert (shown["format"], shown["use_policy"], shown["fresh_instances"]) == (
        "mso_mdoc",
        "one_time",
        3,
    )

    def present() -> dict[str, Any]:
        uri, request_id = verifier.request(mdoc_query(PID, PID, ("given_name",), query_id="pid"))
        consent = phone.scan(uri).json()["presentation"]
        assert phone.approve(consent["presentation_id"])["outcome"] == "accepted"
        answer = verifier.answers[request_id]
        [token] = answer.vp_token["pid"]
        document = verify_device_response(
            token, session_transcript=transcript_of(answer), trust=[anchor(client)]
        ).documents[0]
        return dict(document.claims[PID])

    present()
    present()
    assert _renew(client) == 1
    shown = _shown(phone, credential_id)
    assert (shown["instances"], shown["fresh_instances"]) == (4, 4)
    assert shown["claims"][PID]["given_name"]
    for _ in range(4):  # the unshown copy, then the three fresh mdocs
        assert set(present()) == {"given_name"}
    shared = [
        entry["shared"][0]["instance"]
        for entry in phone.get("/wallet/activity").json()["activity"]
        if entry["kind"] == "presentation_sent"
    ]
    assert len(set(shared)) == 6
