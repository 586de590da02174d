"""A mediator's key replaced and a mediator removed (docs/mediators.md), on SQLite and
PostgreSQL: the old key stops at once and its open help requests with it; a removed
mediator opens nothing, its live mediations end (the citizen's log says the deployment
removed the mediator), and both are in the audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from core.errors import InvalidRequest
from tests.wallet.test_mediation import _as, _audit, _help_request, _mediated
from wallet.services.context import WalletContext
from wallet.services.mediator_keys import remove_mediator, replace_mediator_key


def test_a_new_key_stops_the_old_one_and_its_open_help_requests(client: TestClient[Any]) -> None:
    phone, mediator, request = _mediated(client)
    waiting = _help_request(client, mediator)  # made with the old key, not consented yet
    context: WalletContext = client.app.state.wallet
    key = client.blocking_portal.call(replace_mediator_key, context, "ana-sousa")
    assert client.get("/mediator/api/me", headers=mediator).status_code == 401
    renewed = {"Authorization": f"Bearer {key}"}
    assert client.get("/mediator/api/me", headers=renewed).json()["mediator_id"] == "ana-sousa"
    # whoever held the old key holds the open request's token: it can no longer start
    assert phone.post("/wallet/mediations", {"code": waiting["code"]}).status_code == 404
    # the mediation the citizen consented to goes on
    assert client.get("/wallet/credentials", headers=_as(request)).status_code == 200
    assert any(e.action == "mediation.key_replaced" for e in _audit(client))
    with pytest.raises(InvalidRequest):
        client.blocking_portal.call(replace_mediator_key, context, "nobody")


def test_a_removed_mediator_opens_nothing_and_its_mediations_end(
    client: TestClient[Any],
) -> None:
    phone, mediator, request = _mediated(client)
    waiting = _help_request(client, mediator)
    context: WalletContext = client.app.state.wallet
    ended = client.blocking_portal.call(remove_mediator, context, "ana-sousa")
    assert ended == 1
    assert client.get("/mediator/api/me", headers=mediator).status_code == 401
    refused = client.get("/wallet/credentials", headers=_as(request))
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    assert phone.post("/wallet/mediations", {"code": waiting["code"]}).status_code == 404
    assert phone.get("/wallet/mediations").json()["mediations"] == []
    latest = phone.get("/wallet/activity").json()["activity"][0]
    assert latest["kind"] == "mediation_ended" and latest["ended_by"] == "removed"

    async def listed() -> list[str]:
        return [m.mediator_id for _, ms in await context.mediations.spaces() for m in ms]

    assert "ana-sousa" not in client.blocking_portal.call(listed)
    entries = _audit(client)
    [removal] = [e for e in entries if e.action == "mediation.mediator_removed"]
    assert removal.actor == "espaco-lisboa/ana-sousa" and '"mediations_ended":1' in removal.facts
    assert any(
        e.action == "mediation.ended" and '"ended_by":"removed"' in e.facts and e.subject_key
        for e in entries
    )
    with pytest.raises(InvalidRequest):  # once
        client.blocking_portal.call(remove_mediator, context, "ana-sousa")
    with pytest.raises(InvalidRequest):  # and a removed mediator gets no new key
        client.blocking_portal.call(replace_mediator_key, context, "ana-sousa")
