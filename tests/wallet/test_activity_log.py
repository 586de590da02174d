"""The citizen's activity log: each entry is the message of its kind (a tagged union in
the document), with the id, time and kind that are kept in the clear; entries written
before the log was typed (the same members, sealed without id, time or kind) read the
same way."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.wallet.phone import Phone
from wallet.domain import ActivityEntry, ActivityKind
from wallet.services.context import WalletContext


def test_device_events_are_entries_of_their_kind(client: TestClient[Any]) -> None:
    phone = Phone(client)
    phone.register("first phone")
    activity = phone.get("/wallet/activity").json()["activity"]
    assert [entry["kind"] for entry in activity] == ["device_registered"]
    [entry] = activity
    assert set(entry) == {"entry_id", "at", "kind", "device_id"}
    assert entry["device_id"] == phone.device_id


def test_an_entry_sealed_before_the_log_was_typed_reads_as_its_kind(
    client: TestClient[Any],
) -> None:
    phone = Phone(client)
    phone.register()
    context: WalletContext = client.app.state.wallet
    account_id = str(phone.account_id)
    earlier = {
        "verifier": "Corner Bar",
        "client_id": "x509_san_dns:bar.example.com",
        "verifier_authenticated": True,
        "requested": [{"query_id": "pid", "claims": ["age_over_18"]}],
        "verifier_told": True,
    }

    async def write_earlier_entry() -> None:
        box = await context.box(account_id)
        await context.store.activity.add(
            ActivityEntry(
                "a-earlier",
                account_id,
                context.clock.now() + 1,
                ActivityKind.PRESENTATION_DECLINED,
                box.seal("activity", "a-earlier", earlier),
            )
        )

    client.blocking_portal.call(write_earlier_entry)
    newest = phone.get("/wallet/activity").json()["activity"][0]
    assert newest == {
        "entry_id": "a-earlier",
        "at": newest["at"],
        "kind": "presentation_declined",
        **earlier,
    }
