"""The live stream across the workers of a real ``idwallet serve --workers 2``: the
citizen's stream is open on one worker while their other requests, each on a connection
of its own, land on either; every notification made (a device added) reaches the stream,
those of the other worker through its look at the store. The stream ends as asked."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx

from tests.support.server import running_server
from tests.wallet.phone import Phone

DEVICES = 6


def test_the_stream_gets_what_every_worker_stores(var_dir: Path) -> None:
    with running_server(var_dir, IDWALLET_WORKERS="2") as server:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            phone = Phone(client)
            phone.register()
        received: list[dict[str, object]] = []
        opened = threading.Event()

        def follow() -> None:
            with (
                httpx.Client(base_url=server.base_url, timeout=60) as streaming,
                streaming.stream(
                    "GET", "/wallet/notifications/stream?wait=20", headers=phone.headers
                ) as stream,
            ):
                opened.set()
                for line in stream.iter_lines():
                    if line.startswith("data:"):
                        received.append(json.loads(line.removeprefix("data:")))
                    if len(received) == DEVICES:
                        return

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        assert opened.wait(30)
        for _ in range(DEVICES):  # a new connection each: either worker takes it
            with httpx.Client(base_url=server.base_url, timeout=30) as once:
                added = once.post(
                    "/wallet/devices",
                    json={"device_proof": Phone(once).proof(by_kid=False)},
                    headers=phone.headers,
                )
                assert added.status_code == 201, added.text
        follower.join(timeout=30)
        assert not follower.is_alive()
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            feed = client.get("/wallet/notifications", headers=phone.headers).json()
        assert sorted(n["notification_id"] for n in received) == sorted(
            n["notification_id"] for n in feed["notifications"]
        )
        assert {n["kind"] for n in received} == {"device_added"}
