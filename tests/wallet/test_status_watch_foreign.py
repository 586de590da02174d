"""The status-list watching with an issuer that is not ours: its Status Provider on a real
port (``status_list_server``), its lists signed under a root the wallet is configured to
trust. Forty credentials over two lists cost two fetches per ``ttl`` (the second one
conditional: 304 while nothing changed), a revocation reaches exactly the citizens whose
credentials it concerns, a ``ttl`` under the floor is held to the floor, and a list signed
by a key whose certificate does not name the credential's issuer is not believed. On
SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from app.settings import Settings
from core.http.published_documents import PublishedDocuments
from tests.conftest import migrated_database
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.wallet.phone import Phone
from tests.wallet.stand_ins import write_anchor
from tests.wallet.status_list_server import StatusLists, running_status_lists
from wallet.domain import CredentialInstance, CredentialRecord, StoredCredential
from wallet.services.context import WalletContext
from wallet.services.watch_statuses import WatchReport, watch_pass
from wallet.storage.notification_tables import StatusListRow

TTL = 120


class Later:
    """The wallet's clock and its documents cache's, moved on by the test."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def foreign() -> Iterator[StatusLists]:
    with running_status_lists(ttl=TTL) as running:
        yield running


@pytest.fixture
def settings(var_dir: Path, database_url: str, foreign: StatusLists) -> Settings:
    from app.notification_settings import NotificationSettings

    return Settings(
        var_dir=var_dir,
        database_url=migrated_database(database_url),
        public_base_url=PUBLIC_BASE_URL,
        wallet_trust_anchors=(str(write_anchor(var_dir)),),
        outbound_allow=(f"localhost:{foreign.base.rsplit(':', 1)[1]}",),
        notifications=NotificationSettings(watch_every=3600),
    )


def _hold(
    client: TestClient[Any], account_id: str, issuer: str, references: list[tuple[str, int]]
) -> str:
    """A credential of the foreign issuer as the wallet keeps it (its instances' status
    references), stored before the watching knew of it."""
    context: WalletContext = client.app.state.wallet
    credential_id = str(uuid.uuid4())
    record = CredentialRecord(
        format="dc+sd-jwt",
        vct="urn:example:foreign:pid",
        issuer=issuer,
        configuration_id="pid",
        instances=[
            CredentialInstance("eyJ.e30.sig~", f"hk-{i}", {"uri": uri, "idx": index})
            for i, (uri, index) in enumerate(references)
        ],
        credential_display=[{"locale": "en", "name": "Foreign PID"}],
        expires_at=int(time.time()) + 365 * 86400,
    )

    async def store() -> None:
        box = await context.box(account_id)
        sealed = box.seal("credential", credential_id, record.to_json())
        await context.store.credentials.add(
            StoredCredential(credential_id, account_id, sealed, 0, time.time())
        )

    client.blocking_portal.call(store)
    return credential_id


def _pass(client: TestClient[Any]) -> WatchReport:
    report: WatchReport = client.blocking_portal.call(watch_pass, client.app.state.wallet)
    return report


def _lists(client: TestClient[Any]) -> dict[str, StatusListRow]:
    async def read() -> dict[str, StatusListRow]:
        async with client.app.state.deployment.sessions() as session:
            rows = (await session.execute(select(StatusListRow))).scalars()
            return {row.uri.rsplit("/", 1)[1]: row for row in rows}

    found: dict[str, StatusListRow] = client.blocking_portal.call(read)
    return found


def test_a_foreign_issuers_lists_are_fetched_once_per_ttl_and_changes_told(
    client: TestClient[Any], foreign: StatusLists
) -> None:
    context: WalletContext = client.app.state.wallet
    clock = Later()
    context.clock = clock
    context.documents = PublishedDocuments(
        context.outbound,  # type: ignore[arg-type]
        clock=clock,
    )
    phones = [Phone(client) for _ in range(4)]
    held: dict[tuple[str, int], tuple[Phone, str]] = {}
    for number, phone in enumerate(phones):
        phone.register()
        for k in range(10):  # ten credentials each, over two lists
            name = "a" if k % 2 == 0 else "b"
            index = number * 100 + k
            credential_id = _hold(
                client, str(phone.account_id), foreign.base, [(foreign.uri(name), index)]
            )
            held[(name, index)] = (phone, credential_id)

    first = _pass(client)
    assert (first.indexed, first.lists_checked, first.notified) == (40, 2, 0)
    assert foreign.requests == {"a": 1, "b": 1}
    rows = _lists(client)
    assert rows["a"].next_fetch_at - rows["a"].fetched_at == pytest.approx(TTL, abs=1)

    clock.offset += TTL / 2
    assert _pass(client).lists_checked == 0  # within the ttl: nobody asks
    assert foreign.requests == {"a": 1, "b": 1}

    foreign.set("a", 102, 1)  # the second citizen's credential at index 102: revoked
    foreign.set("a", 4, 2)  # the first citizen's at index 4: suspended
    clock.offset += TTL / 2 + 1
    changed = _pass(client)
    assert changed.kinds == {"revoked": 1, "suspended": 1}
    assert foreign.requests == {"a": 2, "b": 2}
    assert foreign.not_modified == {"b": 1}  # asked conditionally; nothing changed there

    revoked_phone, revoked_id = held[("a", 102)]
    assert revoked_phone is phones[1]  # index 102: the second citizen
    told = revoked_phone.get("/wallet/notifications").json()["notifications"]
    assert [(n["kind"], n["credential_id"], n["credential"]) for n in told] == [
        ("revoked", revoked_id, "Foreign PID")
    ]
    assert phones[0].get("/wallet/notifications").json()["notifications"][0]["kind"] == "suspended"
    for quiet in (phones[2], phones[3]):
        assert quiet.get("/wallet/notifications").json()["unread"] == 0


def test_a_ttl_under_the_floor_is_held_to_it(client: TestClient[Any], foreign: StatusLists) -> None:
    foreign.ttl = 5
    phone = Phone(client)
    phone.register()
    _hold(client, str(phone.account_id), foreign.base, [(foreign.uri("c"), 7)])
    _pass(client)
    row = _lists(client)["c"]
    floor = client.app.state.wallet.policy.watch_floor
    assert row.next_fetch_at - row.fetched_at == pytest.approx(floor, abs=1)


def test_a_list_whose_signer_does_not_name_the_issuer_is_not_believed(
    client: TestClient[Any], foreign: StatusLists
) -> None:
    phone = Phone(client)
    phone.register()
    # the credential says another issuer; the list's certificate names the foreign one
    _hold(client, str(phone.account_id), "https://other.example", [(foreign.uri("d"), 3)])
    foreign.set("d", 3, 1)
    report = _pass(client)
    assert (report.lists_checked, report.failures, report.notified) == (1, 1, 0)
    row = _lists(client)["d"]
    assert row.failures == 1 and row.last_digest is None
    assert phone.get("/wallet/notifications").json()["unread"] == 0
