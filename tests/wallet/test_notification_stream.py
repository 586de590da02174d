"""The live stream of notifications on one worker: it carries what is new from the moment
it opens (the feed has what came before), its slot in the worker's bound is given back
however it ends (a client gone before the first byte holds none), and revoking its device
ends it at once. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from litestar.exceptions import LitestarException
from litestar.testing import TestClient

from tests.wallet.phone import Phone
from wallet.services.context import WalletContext
from wallet.services.notification_messages import Notification
from wallet.services.notification_stream import notification_stream
from wallet.services.sessions import Session

#: Seconds a test waits at most for a stream it expects to end long before.
SAFETY = 60


def _add_device(phone: Phone) -> str:
    added = phone.client.post(
        "/wallet/devices",
        json={"device_proof": Phone(phone.client).proof(by_kid=False)},
        headers=phone.headers,
    )
    assert added.status_code == 201, added.text
    device_id: str = added.json()["device_id"]
    return device_id


def test_the_stream_carries_what_is_new_from_its_opening(client: TestClient[Any]) -> None:
    context: WalletContext = client.app.state.wallet
    phone = Phone(client)
    phone.register()
    before = _add_device(phone)  # told before the stream opens: the feed has it
    session = Session(str(phone.account_id), str(phone.device_id))
    opened: list[bool] = []

    async def first_new() -> Notification:
        async with contextlib.aclosing(
            notification_stream(context, session, time.time() + 300)
        ) as notes:
            async for note in notes:
                opened.append(True)
                if note is not None:
                    return note
        raise AssertionError("the stream ended")

    future = client.blocking_portal.start_task_soon(first_new)
    client.blocking_portal.call(_until_open, context, 1)
    after = _add_device(phone)
    told = future.result(timeout=SAFETY)
    assert told.kind == "device_added" and told.device_id == after != before
    assert context.notices.open_streams == 0  # closed: its slot is given back

    with client.stream(
        "GET", "/wallet/notifications/stream?wait=1", headers=phone.headers
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    assert "event: notification" not in text  # both were made before it opened
    assert context.notices.open_streams == 0


async def _until_open(context: WalletContext, streams: int) -> None:
    """Until the worker holds ``streams`` open streams (the stream under test started)."""
    while context.notices.open_streams < streams:
        await asyncio.sleep(0.01)


def test_a_client_gone_before_the_first_byte_holds_no_slot(client: TestClient[Any]) -> None:
    context: WalletContext = client.app.state.wallet
    phone = Phone(client)
    phone.register()
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])
        raise OSError("the client is gone")  # the connection closed before any byte

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/wallet/notifications/stream",
        "raw_path": b"/wallet/notifications/stream",
        "query_string": b"wait=30",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", phone.headers["Authorization"].encode("ascii")),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    for _ in range(3):
        with contextlib.suppress(OSError, LitestarException):
            client.blocking_portal.call(client.app, scope, receive, send)
    assert sent and sent[0] == "http.response.start"
    assert context.notices.open_streams == 0
    with client.stream(
        "GET", "/wallet/notifications/stream?wait=1", headers=phone.headers
    ) as stream:
        assert stream.status_code == 200  # the citizen's bound is untouched


def test_revoking_a_device_ends_its_stream(client: TestClient[Any]) -> None:
    context: WalletContext = client.app.state.wallet
    phone = Phone(client)
    phone.register()
    lost = _add_device(phone)
    session = Session(str(phone.account_id), lost)

    async def follow() -> int:
        got = 0
        async with contextlib.aclosing(
            notification_stream(context, session, time.time() + 3600, wait=3600)
        ) as notes:
            async for _ in notes:
                got += 1
        return got

    future = client.blocking_portal.start_task_soon(follow)
    client.blocking_portal.call(_until_open, context, 1)
    assert phone.delete(f"/wallet/devices/{lost}").status_code == 204
    assert future.result(timeout=SAFETY) == 0  # ended, long before its hour
    assert context.notices.open_streams == 0
