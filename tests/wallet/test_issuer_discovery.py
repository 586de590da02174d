"""How the wallet reads an issuer it has never met (OpenID4VCI 1.0 §12.2, RFC 8414): the
Credential Issuer Metadata and the Authorization Server Metadata go through the same
typed messages the agencies publish with, so a document that breaks its section is
refused with the path of what is wrong, members the wallet does not use are read as
given, and an offer's authorization server is followed only when the issuer lists it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app.settings import Settings
from tests.wallet.phone import Phone
from tests.wallet.stand_ins import StandIns, running_stand_ins, settings_with_stand_ins
from wallet.domain import FlowState
from wallet.services.context import WalletContext


@pytest.fixture
def stand_ins() -> Iterator[StandIns]:
    with running_stand_ins() as running:
        yield running


@pytest.fixture
def settings(var_dir: Path, database_url: str, stand_ins: StandIns) -> Settings:
    settings: Settings = settings_with_stand_ins(var_dir, database_url, stand_ins)
    return settings


MDOC_CONFIGURATION = {
    "format": "mso_mdoc",
    "doctype": "org.iso.18013.5.1.mDL",
    "cryptographic_binding_methods_supported": ["cose_key"],
    "credential_signing_alg_values_supported": [-7, -9],
}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (
            {"batch_credential_issuance": {"batch_size": 1}},
            "$.batch_credential_issuance.batch_size",
        ),
        ({"credential_endpoint": 42}, "$.credential_endpoint"),
        ({"display": [{"name": "Issuer", "logo": {"alt_text": "no uri"}}]}, "$.display[0].logo"),
        ({"authorization_servers": []}, "$.authorization_servers"),
    ],
    ids=["batch-size-1", "endpoint-not-a-url", "logo-without-uri", "no-authorization-server"],
)
def test_metadata_that_breaks_section_12_2_4_is_refused_with_its_path(
    client: TestClient[Any], stand_ins: StandIns, change: dict[str, Any], where: str
) -> None:
    phone = Phone(client)
    phone.register()
    stand_ins.metadata_changes = change
    refused = phone.scan(stand_ins.offer_uri())
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["error"] == "invalid_request"
    assert body["error_description"].startswith(f"the issuer metadata is malformed: {where}")


def test_configurations_the_wallet_does_not_hold_are_read_as_given(
    client: TestClient[Any], stand_ins: StandIns
) -> None:
    phone = Phone(client)
    phone.register()
    configurations = stand_ins.issuer_metadata()["credential_configurations_supported"]
    stand_ins.metadata_changes = {
        "credential_configurations_supported": {**configurations, "mdl": MDOC_CONFIGURATION},
        "signed_metadata": "not read by this wallet",
    }
    received = phone.receive(stand_ins.offer_uri())
    assert received["credentials"][0]["name"] == "Stand-in PID"


def test_an_authorization_server_is_followed_only_when_the_issuer_lists_it(
    client: TestClient[Any], stand_ins: StandIns
) -> None:
    phone = Phone(client)
    phone.register()
    stand_ins.grant_changes = {"authorization_server": "https://elsewhere.example"}
    refused = phone.scan(stand_ins.offer_uri())
    assert refused.status_code == 422, refused.text
    assert "authorization server the issuer does not list" in refused.json()["error_description"]

    stand_ins.metadata_changes = {"authorization_servers": [stand_ins.base]}
    stand_ins.grant_changes = {"authorization_server": stand_ins.base}
    assert phone.receive(stand_ins.offer_uri())["status"] == "received"


def test_an_authorization_server_naming_another_issuer_is_refused(
    client: TestClient[Any], stand_ins: StandIns
) -> None:
    phone = Phone(client)
    phone.register()
    stand_ins.metadata_changes = {"authorization_servers": [f"{stand_ins.base}/other"]}
    refused = phone.scan(stand_ins.offer_uri())
    # the stand-in answers with its own metadata at the other server's well-known URL
    assert refused.status_code == 422, refused.text
    assert "names another issuer" in refused.json()["error_description"]


def test_an_offer_kept_in_another_shape_is_gone_not_an_error(
    client: TestClient[Any], stand_ins: StandIns
) -> None:
    """A flow sealed by an earlier version (across an upgrade) cannot go on."""
    phone = Phone(client)
    phone.register()
    offer = phone.scan(stand_ins.offer_uri()).json()["offer"]
    context: WalletContext = client.app.state.wallet
    account_id = str(phone.account_id)

    async def reshape() -> bool:
        box = await context.box(account_id)
        earlier = {"offer": {"credential_issuer": stand_ins.base}, "instances": 1}
        return await context.store.flows.move(
            account_id,
            offer["offer_id"],
            expected=FlowState.OFFERED,
            state=FlowState.OFFERED,
            sealed=box.seal("flow", offer["offer_id"], earlier),
        )

    assert client.blocking_portal.call(reshape)
    gone = phone.post(f"/wallet/offers/{offer['offer_id']}/accept", {"custody": "server"})
    assert gone.status_code == 404, gone.text
    assert gone.json()["error"] == "not_found"
    again = phone.post(f"/wallet/offers/{offer['offer_id']}/accept", {"custody": "server"})
    assert again.status_code == 400 and "failed" in again.json()["error_description"]
