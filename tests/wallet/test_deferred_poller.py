"""The deferred-credential poller on its own, with a stand-in store and issuer: it sleeps
until the next pending issuance is due, within its bounds; asks about each due one once,
and about one that stays due no more often than ``min_deferred_interval``; a failure is
logged and the others are still asked about; this worker leaving an issuance pending wakes
it; a failed pass does not stop it; it stops when the worker does."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import cast

import pytest

from app.deferred_polling import polling_deferred
from core.clock import FixedClock
from core.errors import CredentialRequestDenied
from wallet.services import poll_deferred
from wallet.services.context import WalletContext, WalletPolicy
from wallet.services.interaction_messages import OfferOutcome
from wallet.services.poll_deferred import DeferredPoller

NOW = 1_800_000_000.0
POLICY = WalletPolicy(min_deferred_interval=5, deferred_poll_longest=60.0)


class _Flows:
    """Pending flows by id: (account id, due time); ``failing`` makes the next query fail."""

    def __init__(self) -> None:
        self.pending: dict[str, tuple[str, float]] = {}
        self.failing = 0

    def _check(self) -> None:
        if self.failing:
            self.failing -= 1
            raise ConnectionError("the database is away")

    async def due(self, now: float, limit: int) -> list[tuple[str, str]]:
        self._check()
        due = sorted((at, a, f) for f, (a, at) in self.pending.items() if at <= now)
        return [(a, f) for _, a, f in due[:limit]]

    async def next_due(self, now: float) -> float | None:
        self._check()
        return min((at for _, at in self.pending.values()), default=None)


def _context(policy: WalletPolicy = POLICY) -> tuple[WalletContext, _Flows, FixedClock]:
    flows, clock = _Flows(), FixedClock(NOW)
    context = SimpleNamespace(
        store=SimpleNamespace(flows=flows),
        clock=clock,
        policy=policy,
        pending_changed=asyncio.Event(),
    )
    return cast(WalletContext, context), flows, clock


class _Issuer:
    """Stands in for ``fetch_deferred``: what each flow gets (an exception, or one
    credential and the flow ends), and which flows were asked about."""

    def __init__(self, flows: _Flows, failures: dict[str, Exception] | None = None) -> None:
        self.flows, self.failures, self.asked = flows, failures or {}, list[str]()

    async def __call__(self, context: WalletContext, account_id: str, flow_id: str) -> OfferOutcome:
        self.asked.append(flow_id)
        if flow_id in self.failures:
            raise self.failures[flow_id]
        del self.flows.pending[flow_id]
        return cast(OfferOutcome, SimpleNamespace(credentials=["the credential"]))


async def test_it_sleeps_until_the_next_is_due_within_its_bounds() -> None:
    context, flows, _ = _context(dataclasses.replace(POLICY, deferred_poll_shortest=1.0))
    poller = DeferredPoller(context)
    assert await poller.sleep_for() == 60.0  # nothing pending: other workers' seen a minute on
    flows.pending["f1"] = ("a", NOW + 5)
    assert await poller.sleep_for() == 5.0  # the issuer's interval
    flows.pending["f1"] = ("a", NOW + 3600)
    assert await poller.sleep_for() == 60.0
    flows.pending["f1"] = ("a", NOW - 30)
    assert await poller.sleep_for() == 1.0  # overdue: a pass soon, but no busy loop


async def test_each_due_flow_is_asked_once_and_a_failure_stops_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    context, flows, clock = _context()
    flows.pending = {
        "refused": ("a", NOW - 2),
        "broken": ("b", NOW - 1),
        "fine": ("c", NOW),
        "later": ("c", NOW + 5),
    }
    issuer = _Issuer(
        flows,
        {"refused": CredentialRequestDenied("no"), "broken": RuntimeError("Zzcanary secret")},
    )
    monkeypatch.setattr(poll_deferred, "fetch_deferred", issuer)
    poller = DeferredPoller(context)
    with caplog.at_level(logging.INFO, logger="idwallet.wallet"):
        assert await poller.poll() == 1
    assert issuer.asked == ["refused", "broken", "fine"]
    logged = [r.getMessage() for r in caplog.records]
    assert "deferred credentials of flow refused: credential_request_denied" in logged
    assert "deferred credentials of flow broken: RuntimeError" in logged
    assert not any("Zzcanary" in line for line in logged)

    # the failed ones stay due here (nothing scheduled them again): not asked about again
    # before min_deferred_interval has passed, however often the poller wakes
    for _ in range(4):
        clock.advance(1)
        assert await poller.poll() == 0
    assert issuer.asked == ["refused", "broken", "fine"]
    clock.advance(1)
    issuer.failures.clear()
    assert await poller.poll() == 3
    assert issuer.asked[3:] == ["refused", "broken", "later"]


async def test_a_stopping_worker_starts_no_other(monkeypatch: pytest.MonkeyPatch) -> None:
    context, flows, _ = _context()
    flows.pending = {"one": ("a", NOW - 1), "two": ("a", NOW)}
    issuer = _Issuer(flows)
    monkeypatch.setattr(poll_deferred, "fetch_deferred", issuer)
    assert await DeferredPoller(context).poll(lambda: bool(issuer.asked)) == 1
    assert issuer.asked == ["one"]


async def _until(done: Callable[[], bool], what: str) -> None:
    for _ in range(400):
        if done():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


async def test_a_pending_issuance_of_this_worker_wakes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # sleeping a minute at most, and woken as soon as an issuance of this worker is
    # pending; the clock does not move, so only what is due at once is asked about
    context, flows, _ = _context(dataclasses.replace(POLICY, deferred_poll_shortest=0.0))
    issuer = _Issuer(flows)
    monkeypatch.setattr(poll_deferred, "fetch_deferred", issuer)
    async with polling_deferred(context, logging.getLogger("idwallet.wallet")):
        await asyncio.sleep(0.05)  # asleep, nothing pending
        flows.pending["due"] = ("a", NOW)
        context.pending_changed.set()
        await _until(lambda: issuer.asked == ["due"], "the poller was not woken")


async def test_a_failed_pass_does_not_stop_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    context, flows, _ = _context(
        dataclasses.replace(POLICY, min_deferred_interval=0, deferred_poll_shortest=0.0)
    )
    issuer = _Issuer(flows)
    monkeypatch.setattr(poll_deferred, "fetch_deferred", issuer)
    flows.pending["due"] = ("a", NOW)
    flows.failing = 3
    with caplog.at_level(logging.WARNING, logger="idwallet.wallet"):
        async with polling_deferred(context, logging.getLogger("idwallet.wallet")):
            await _until(lambda: issuer.asked == ["due"], "the poller stopped")
    assert "fetching deferred credentials failed: ConnectionError" in [
        r.getMessage() for r in caplog.records
    ]


async def test_it_stops_with_the_worker_while_asleep() -> None:
    context, _, _ = _context()
    async with polling_deferred(context, logging.getLogger("idwallet.wallet")):
        await asyncio.sleep(0.05)
    # left at once, not after its minute of sleep (the test would time out otherwise)
