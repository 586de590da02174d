"""The status-list watching tells each change of a held credential once and only once:
whatever the number of its instances and lists, when two passes run at once (a lease
that lapsed while a list was checked), when telling fails half-way, when the Status
Provider is away for a while, when a credential is indexed again, and when a credential
joins a list already revoked. Against a foreign Status Provider on a real port, its lists
set by the test; on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from app.status_watching import lease_seconds
from core.http.published_documents import PublishedDocuments
from tests.wallet.phone import Phone
from tests.wallet.status_list_server import StatusLists
from tests.wallet.test_status_watch_foreign import (  # noqa: F401 - fixtures
    TTL,
    Later,
    foreign,
    settings,
)
from wallet.domain import CredentialInstance, CredentialRecord, StoredCredential
from wallet.services.context import WalletContext
from wallet.services.status_watch_index import NO_EXPIRY_HORIZON, watch_credential
from wallet.services.watch_statuses import WATCH_TASK, WatchReport, watch_pass
from wallet.storage.notification_tables import CredentialWatchRow, StatusListRow

DAY = 86400.0


class Watching:
    """One citizen's wallet and the watching's clock, moved on by the test."""

    def __init__(self, client: TestClient[Any], provider: StatusLists) -> None:
        self.client = client
        self.foreign = provider
        self.context: WalletContext = client.app.state.wallet
        self.clock = Later()
        self.context.clock = self.clock
        self.context.documents = PublishedDocuments(
            self.context.outbound,  # type: ignore[arg-type]
            clock=self.clock,
        )
        self.phone = Phone(client)
        self.phone.register()
        self._take_the_lease()

    def _take_the_lease(self) -> None:
        """The passes are the test's alone: it holds the watching's lease for longer than
        its clock ever moves, so the app's own pass (at start, then hourly) cannot run one
        between the test's steps. Where the app's start-up pass holds it, the test's clock
        moves past that lease, which also stops a pass still under way at its next check."""
        store = self.context.store.status_watching

        async def take() -> bool:
            return await store.lease(WATCH_TASK, "the test", self.clock.now(), 3650 * DAY)

        if not self.client.blocking_portal.call(take):
            self.clock.offset += lease_seconds(3600) + 1
            assert self.client.blocking_portal.call(take)

    def record(
        self, references: list[tuple[str, int]], expires_in: float | None = 365 * DAY
    ) -> CredentialRecord:
        return CredentialRecord(
            format="dc+sd-jwt",
            vct="urn:example:foreign:pid",
            issuer=self.foreign.base,
            configuration_id="pid",
            instances=[
                CredentialInstance("eyJ.e30.sig~", f"hk-{i}", {"uri": uri, "idx": index})
                for i, (uri, index) in enumerate(references)
            ],
            credential_display=[{"locale": "en", "name": "Foreign PID"}],
            expires_at=None if expires_in is None else int(self.clock.now() + expires_in),
        )

    def hold(self, record: CredentialRecord) -> str:
        """Stored as a credential the watching has not indexed yet."""
        credential_id = str(uuid.uuid4())
        account_id = str(self.phone.account_id)

        async def store() -> None:
            box = await self.context.box(account_id)
            sealed = box.seal("credential", credential_id, record.to_json())
            await self.context.store.credentials.add(
                StoredCredential(credential_id, account_id, sealed, 0, time.time())
            )

        self.client.blocking_portal.call(store)
        return credential_id

    def index(self, credential_id: str, record: CredentialRecord) -> None:
        """As when the credential is stored or renewed."""
        self.client.blocking_portal.call(
            watch_credential, self.context, str(self.phone.account_id), credential_id, record
        )

    def run(self) -> WatchReport:
        report: WatchReport = self.client.blocking_portal.call(watch_pass, self.context)
        return report

    def later(self, seconds: float) -> WatchReport:
        self.clock.offset += seconds
        return self.run()

    def told(self) -> list[tuple[str, str]]:
        """(kind, credential id) of every notification, oldest first."""
        feed = self.phone.get("/wallet/notifications").json()["notifications"]
        return [(n["kind"], n["credential_id"]) for n in reversed(feed)]

    def rows(self, table: Any) -> list[Any]:
        async def read() -> list[Any]:
            async with self.client.app.state.deployment.sessions() as session:
                return list((await session.execute(select(table))).scalars())

        found: list[Any] = self.client.blocking_portal.call(read)
        return found


@pytest.fixture
def watching(client: TestClient[Any], foreign: StatusLists) -> Watching:  # noqa: F811
    return Watching(client, foreign)


def test_a_credential_on_two_lists_is_told_its_own_changes_once(watching: Watching) -> None:
    lists = watching.foreign
    both = watching.hold(watching.record([(lists.uri("a"), 5), (lists.uri("b"), 5)]))
    watching.run()
    lists.set("a", 5, 2)
    lists.set("b", 5, 2)  # both instances suspended
    assert watching.later(TTL + 1).kinds == {"suspended": 1}
    lists.set("a", 5, 0)  # one instance back, the other still suspended: no news
    assert watching.later(TTL + 1).kinds == {}
    lists.set("b", 5, 0)  # now the credential is valid again
    assert watching.later(TTL + 1).kinds == {"reinstated": 1}
    lists.set("a", 5, 1)
    assert watching.later(TTL + 1).kinds == {"revoked": 1}
    lists.set("b", 5, 1)  # its other instance revoked too: it was revoked already
    assert watching.later(TTL + 1).kinds == {}
    assert watching.told() == [("suspended", both), ("reinstated", both), ("revoked", both)]
    activity = [e["kind"] for e in watching.phone.get("/wallet/activity").json()["activity"]]
    assert activity[:3] == ["credential_revoked", "credential_reinstated", "credential_suspended"]


def test_two_passes_at_once_tell_a_change_once(watching: Watching) -> None:
    """The lease lapses while a pass is fetching a list: another worker runs a whole pass
    meanwhile; the first one then finds the version recorded and the change told."""
    lists, context = watching.foreign, watching.context
    held = watching.hold(watching.record([(lists.uri("a"), 3)]))
    watching.run()
    lists.set("a", 3, 1)
    documents = context.documents
    overtaken: list[WatchReport] = []

    class SlowFetch:
        async def fetch(self, uri: str) -> str:
            if not overtaken:
                context.documents = documents
                overtaken.append(await watch_pass(context))  # the other worker
            return await documents.fetch(uri)

    watching.clock.offset += TTL + 1
    context.documents = SlowFetch()  # type: ignore[assignment]
    try:
        stale = watching.run()
    finally:
        context.documents = documents
    assert overtaken[0].kinds == {"revoked": 1}
    assert (stale.lists_checked, stale.notified) == (1, 0)
    assert watching.told() == [("revoked", held)]
    [row] = watching.rows(StatusListRow)
    assert row.fetches == 2 and row.failures == 0  # the overtaken pass recorded nothing


def test_a_failure_while_telling_is_told_once_at_the_next_pass(watching: Watching) -> None:
    lists, context = watching.foreign, watching.context
    first = watching.hold(watching.record([(lists.uri("a"), 1)]))
    second = watching.hold(watching.record([(lists.uri("a"), 2)]))
    watching.run()
    lists.set("a", 1, 1)
    lists.set("a", 2, 1)
    store = context.store.status_watching
    settle = store.settle
    calls: list[str] = []

    async def failing_once(credential_id: str, **kwargs: Any) -> bool:
        calls.append(credential_id)
        if len(calls) == 1:
            raise ConnectionError("the database went away")
        return await settle(credential_id, **kwargs)

    store.settle = failing_once  # type: ignore[method-assign]
    try:
        broken = watching.later(TTL + 1)
    finally:
        del store.settle
    assert (broken.failures, broken.notified) == (1, 1)
    again = watching.run()  # the list is not due: the credential left marked is told
    assert (again.lists_checked, again.notified) == (0, 1)
    assert watching.later(TTL + 1).notified == 0
    assert sorted(watching.told()) == sorted([("revoked", first), ("revoked", second)])


def test_a_failing_list_does_not_stop_the_expiry_notices(watching: Watching) -> None:
    lists, context = watching.foreign, watching.context
    held = watching.hold(watching.record([(lists.uri("a"), 1)], expires_in=40 * DAY))
    watching.run()
    store = context.store.status_watching
    claim_list = store.claim_list

    async def broken(*args: Any, **kwargs: Any) -> bool:
        raise ConnectionError("the database went away")

    lists.set("a", 1, 1)
    store.claim_list = broken  # type: ignore[method-assign]
    try:
        report = watching.later(11 * DAY)  # the list changed and the early notice is due
    finally:
        store.claim_list = claim_list  # type: ignore[method-assign]
    assert report.failures == 1 and report.expiry_notices == 1
    [row] = watching.rows(StatusListRow)
    assert row.failures == 1  # recorded, with its backoff
    assert row.next_fetch_at == pytest.approx(
        watching.clock.now() + context.policy.watch_floor, abs=2
    )
    assert watching.later(TTL + 1).kinds == {"revoked": 1}
    assert watching.told() == [("expiring_soon", held), ("revoked", held)]


def test_a_provider_away_is_asked_with_backoff_and_nothing_told_twice(
    watching: Watching,
) -> None:
    lists, context = watching.foreign, watching.context
    floor = context.policy.watch_floor
    held = watching.hold(watching.record([(lists.uri("a"), 7), (lists.uri("a"), 8)]))
    lists.set("a", 7, 2)
    assert watching.run().kinds == {"suspended": 1}
    lists.failing = True
    for failures in (1, 2, 3):
        report = watching.later(TTL + floor * 2**failures)
        assert (report.lists_checked, report.failures) == (1, 1)
        [row] = watching.rows(StatusListRow)
        assert row.failures == failures
        assert row.next_fetch_at - watching.clock.now() == pytest.approx(
            floor * 2 ** (failures - 1), abs=2
        )
    lists.set("a", 8, 1)  # revoked while the provider was away
    lists.failing = False
    assert watching.later(floor * 8).kinds == {"revoked": 1}
    [row] = watching.rows(StatusListRow)
    assert row.failures == 0
    assert watching.later(TTL + 1).notified == 0
    assert watching.told() == [("suspended", held), ("revoked", held)]


def test_a_credential_joining_a_list_already_revoked_is_told(watching: Watching) -> None:
    lists = watching.foreign
    watching.hold(watching.record([(lists.uri("a"), 1)]))
    lists.set("a", 9, 1)  # revoked before the citizen's credential at 9 is held here
    watching.run()
    late = watching.hold(watching.record([(lists.uri("a"), 9)]))
    report = watching.run()  # the list is not due: it is compared as last fetched
    assert (report.indexed, report.lists_checked, report.kinds) == (1, 0, {"revoked": 1})
    assert watching.run().notified == 0
    assert watching.told() == [("revoked", late)]


def test_expiry_is_told_once_whatever_the_indexing(watching: Watching) -> None:
    lists = watching.foreign
    record = watching.record([(lists.uri("a"), 1)], expires_in=60 * DAY)
    held = watching.hold(record)
    short = watching.hold(watching.record([(lists.uri("a"), 2)], expires_in=10 * DAY))
    watching.run()  # the short one is stored within its notice period: no early notice
    assert watching.later(31 * DAY).kinds == {"expiring_soon": 1, "expired": 1}
    watching.index(held, record)  # indexed again, the same exp (a renewal's fresh batch)
    assert watching.run().expiry_notices == 0
    [watch] = [w for w in watching.rows(CredentialWatchRow) if w.credential_id == held]
    assert watch.stage == 1 and watch.expires_at % DAY == 0
    assert watching.later(31 * DAY).kinds == {"expired": 1}
    assert watching.run().expiry_notices == 0
    assert sorted(watching.told()) == sorted(
        [("expired", short), ("expiring_soon", held), ("expired", held)]
    )
    assert watching.told()[-1] == ("expired", held)


def test_a_credential_without_exp_keeps_its_lists_watched(watching: Watching) -> None:
    lists = watching.foreign
    held = watching.hold(watching.record([(lists.uri("a"), 4)], expires_in=None))
    assert watching.run().indexed == 1
    [row] = watching.rows(StatusListRow)
    first_until = row.needed_until
    assert watching.later(150 * DAY).indexed == 0
    assert watching.later(60 * DAY).indexed == 1  # indexed again: watched for longer
    [row] = watching.rows(StatusListRow)
    assert row.needed_until == pytest.approx(watching.clock.now() + NO_EXPIRY_HORIZON, abs=5)
    assert row.needed_until > first_until
    lists.set("a", 4, 1)
    assert watching.later(250 * DAY).kinds == {"revoked": 1}  # past the first horizon
    assert watching.told() == [("revoked", held)]
