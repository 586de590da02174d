"""A presentation flow kept across an upgrade of the wallet: content sealed in the shape an
earlier version wrote (an untyped ``request`` with its ``payload``, ``parts`` prepared for
device signatures) is no presentation request any step takes on. The citizen is told
"no such presentation request" (404), never a server error, and the flow is failed."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.verifiers.presenter import create_request
from tests.wallet.phone import Phone
from wallet.domain import CredentialRecord, FlowState
from wallet.services.context import WalletContext
from wallet.services.credential_records import seal_listing


def _earlier_shape(content: dict[str, Any]) -> dict[str, Any]:
    """The content as the earlier version sealed it."""
    checked = dict(content["request"])
    checked["payload"] = checked.pop("request")
    earlier: dict[str, Any] = {"request": checked}
    if content["prepared"]:
        earlier["parts"] = [
            {k: v for k, v in part.items() if k != "presentation"} for part in content["prepared"]
        ]
    return earlier


def _reseal_in_earlier_shape(client: TestClient[Any], phone: Phone, flow_id: str) -> FlowState:
    context: WalletContext = client.app.state.wallet
    account_id = phone.account_id
    assert account_id is not None

    async def reseal() -> FlowState:
        flow = await context.store.flows.get(account_id, flow_id, context.clock.now())
        assert flow is not None
        box = await context.box(account_id)
        earlier = _earlier_shape(box.open("flow", flow_id, flow.sealed))
        moved = await context.store.flows.move(
            account_id,
            flow_id,
            expected=flow.state,
            state=flow.state,
            sealed=box.seal("flow", flow_id, earlier),
        )
        assert moved
        return flow.state

    state: FlowState = client.blocking_portal.call(reseal)
    return state


def _flow_state(client: TestClient[Any], phone: Phone, flow_id: str) -> FlowState | None:
    context: WalletContext = client.app.state.wallet
    account_id = phone.account_id
    assert account_id is not None

    async def state() -> FlowState | None:
        flow = await context.store.flows.get(account_id, flow_id, context.clock.now())
        return None if flow is None else flow.state

    found: FlowState | None = client.blocking_portal.call(state)
    return found


def _scanned(client: TestClient[Any], custody: str) -> tuple[Phone, str]:
    phone = Phone(client)
    phone.register()
    phone.receive(
        create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"],
        custody=custody,
    )
    created = create_request(client, "bar-age-check", template="age_over_18")
    scanned = phone.scan(created["uri"])
    assert scanned.status_code == 201, scanned.text
    return phone, str(scanned.json()["presentation"]["presentation_id"])


@pytest.mark.parametrize("step", ["approve", "decline"])
def test_a_consent_flow_of_the_earlier_shape_is_unknown(client: TestClient[Any], step: str) -> None:
    phone, presentation_id = _scanned(client, "server")
    assert _reseal_in_earlier_shape(client, phone, presentation_id) is FlowState.CONSENT_NEEDED
    answered = phone.post(f"/wallet/presentations/{presentation_id}/{step}")
    assert answered.status_code == 404, answered.text
    assert answered.json()["error"] == "not_found"
    assert answered.json()["error_description"] == "no such presentation request"
    assert _flow_state(client, phone, presentation_id) is FlowState.FAILED


def test_a_signing_flow_of_the_earlier_shape_is_unknown(client: TestClient[Any]) -> None:
    phone, presentation_id = _scanned(client, "device")
    approved = phone.post(f"/wallet/presentations/{presentation_id}/approve")
    assert approved.json()["status"] == "signatures_needed", approved.text
    signatures = phone.sign_requests(approved.json()["signing_requests"])
    assert _reseal_in_earlier_shape(client, phone, presentation_id) is FlowState.SIGNATURES_NEEDED
    answered = phone.post(
        f"/wallet/presentations/{presentation_id}/complete", {"signatures": signatures}
    )
    assert answered.status_code == 404, answered.text
    assert answered.json()["error"] == "not_found"
    assert _flow_state(client, phone, presentation_id) is FlowState.FAILED


def test_a_credential_deleted_before_the_signatures_came_is_not_found(
    client: TestClient[Any],
) -> None:
    """Which credentials the citizen still holds is read again with the claim when the
    phone's signatures come; one deleted since the approval (its holder keys went with
    it) ends the request with not_found and is not shown, never a server error."""
    phone, presentation_id = _scanned(client, "device")
    approved = phone.post(f"/wallet/presentations/{presentation_id}/approve")
    assert approved.json()["status"] == "signatures_needed", approved.text
    signatures = phone.sign_requests(approved.json()["signing_requests"])
    [held] = phone.get("/wallet/credentials").json()["credentials"]
    assert phone.delete(f"/wallet/credentials/{held['credential_id']}").status_code == 200
    answered = phone.post(
        f"/wallet/presentations/{presentation_id}/complete", {"signatures": signatures}
    )
    assert answered.status_code == 404, answered.text
    assert answered.json()["error"] == "not_found"
    assert _flow_state(client, phone, presentation_id) is FlowState.FAILED


def test_a_phone_credential_sealed_before_device_keys_were_kept_is_shown(
    client: TestClient[Any],
) -> None:
    """A credential whose record was sealed before instances kept the phone's public key
    is shown all the same: the key is read, as it was then."""
    phone = Phone(client)
    phone.register()
    phone.receive(
        create_offer(client, "civil-registry", "national_id", CITIZEN)["offer_uri"],
        custody="device",
    )
    context: WalletContext = client.app.state.wallet
    account_id = phone.account_id
    assert account_id is not None

    async def reseal_without_device_keys() -> None:
        [stored] = await context.store.credentials.list(account_id)
        box = await context.box(account_id)
        record = box.open("credential", stored.credential_id, stored.sealed)
        assert all("device_key" in instance for instance in record["instances"])
        for instance in record["instances"]:
            del instance["device_key"]
        assert await context.store.credentials.replace(
            account_id,
            stored.credential_id,
            box.seal("credential", stored.credential_id, record),
            sealed_listing=seal_listing(
                box, stored.credential_id, CredentialRecord.from_json(record).listing()
            ),
            expected_presentations=stored.presentations,
            renew_from=stored.renew_from,
        )

    client.blocking_portal.call(reseal_without_device_keys)
    created = create_request(client, "bar-age-check", template="age_over_18")
    scanned = phone.scan(created["uri"])
    assert scanned.status_code == 201, scanned.text
    result = phone.approve(scanned.json()["presentation"]["presentation_id"])
    assert result["outcome"] == "accepted", result
