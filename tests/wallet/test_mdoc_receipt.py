"""The wallet receives mdocs (OpenID4VCI 1.0 Appendix A.2) from our agencies through the
mobile API, on SQLite and PostgreSQL: the mobile driving licence and the national ID as
the EU PID, with keys held by the wallet service and on the phone, in batches; each mdoc
verified before it is stored (``x5chain`` to the wallet's anchors, ``docType`` of the
configuration, device key one of the keys proved), then listed with the issuer's display
data, the elements labelled by their ``[namespace, element]`` paths and the live status of
the MSO's status reference (a revocation at the desk shows)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from core.mdoc.elements import MDL_DOC_TYPE, MDL_NAMESPACE
from tests.issuers.test_catalog import CITIZEN, DRIVER
from tests.issuers.test_issuance import create_offer, operator_key
from tests.wallet.phone import Phone

PID = "eu.europa.ec.eudi.pid.1"


def holding(
    client: TestClient[Any], issuer: str, configuration: str, claims: dict[str, Any], custody: str
) -> tuple[Phone, dict[str, Any]]:
    """A registered phone that received the offered mdoc."""
    phone = Phone(client)
    phone.register()
    offer = create_offer(client, issuer, configuration, claims)
    scanned = phone.scan(offer["offer_uri"]).json()["offer"]
    [offered] = scanned["credentials"]
    assert offered["format"] == "mso_mdoc" and offered["vct"] is None
    received = phone.receive(offer["offer_uri"], custody=custody)
    return phone, received


@pytest.mark.parametrize("custody", ["server", "device"])
def test_a_mobile_driving_licence_is_received_and_listed(
    client: TestClient[Any], custody: str
) -> None:
    phone, received = holding(client, "transport-agency", "mobile_driving_licence", DRIVER, custody)
    [credential] = received["credentials"]
    assert credential["instances"] == 3  # a batch, one device key each
    assert bool(phone.holder_keys) is (custody == "device")

    [listed] = phone.get("/wallet/credentials").json()["credentials"]
    assert listed["format"] == "mso_mdoc" and listed["doctype"] == MDL_DOC_TYPE
    assert listed["vct"] is None and listed["status"] == "valid"
    assert listed["expires_at"] > listed["received_at"]
    shown = phone.get(f"/wallet/credentials/{listed['credential_id']}").json()
    elements = shown["claims"][MDL_NAMESPACE]
    assert elements["family_name"] == DRIVER["family_name"]
    assert elements["birth_date"] == DRIVER["birthdate"]  # full-date as YYYY-MM-DD
    assert elements["age_over_18"] is True
    categories = [p["vehicle_category_code"] for p in elements["driving_privileges"]]
    assert categories == ["B", "A"]
    rows = {tuple(row["path"]): row["label"] for row in shown["claim_labels"]}
    assert rows[(MDL_NAMESPACE, "family_name")] != "family_name"  # the issuer's label
    assert all(len(path) == 2 and path[0] == MDL_NAMESPACE for path in rows)


@pytest.mark.parametrize("custody", ["server", "device"])
def test_the_national_id_as_pid_mdoc_is_received(client: TestClient[Any], custody: str) -> None:
    phone, _ = holding(client, "civil-registry", "national_id_mdoc", CITIZEN, custody)
    [listed] = phone.get("/wallet/credentials").json()["credentials"]
    assert listed["doctype"] == PID and listed["status"] == "valid"
    shown = phone.get(f"/wallet/credentials/{listed['credential_id']}").json()
    assert shown["claims"][PID]["given_name"] == CITIZEN["given_name"]


def test_a_revoked_mdoc_shows_revoked(client: TestClient[Any]) -> None:
    """The MSO's status reference (Token Status List, mdoc binding) read as for SD-JWT VCs."""
    phone, _ = holding(client, "transport-agency", "mobile_driving_licence", DRIVER, "server")
    revoked = client.post(
        "/issuers/transport-agency/credentials/revoke",
        json={"subject_id": "citizen-42", "reason": "test"},
        headers={"Authorization": f"Bearer {operator_key(client, 'transport-agency')}"},
    )
    assert revoked.status_code in (200, 201), revoked.text
    [listed] = phone.get("/wallet/credentials").json()["credentials"]
    assert listed["status"] == "revoked"


def test_the_agencies_list_their_mdocs(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register()
    issuers = phone.get("/wallet/issuers").json()["issuers"]
    formats = {
        c["credential_configuration_id"]: c["format"] for i in issuers for c in i["credentials"]
    }
    assert formats["mobile_driving_licence"] == "mso_mdoc"
    assert formats["national_id_mdoc"] == "mso_mdoc" and formats["national_id"] == "dc+sd-jwt"
