"""Web Push to the citizen's browsers, against a push service of the test's own on a real
port: the browser's keys are made here (as ``pushManager.subscribe`` makes them), the
message that arrives is decrypted here (RFC 8291, with ``http_ece``, the reference
decoder) and its VAPID token checked (RFC 8292: ES256 under the key the wallet publishes,
``aud`` the push service's origin, ``exp`` within 24 hours, a ``sub``). A push service
answering 404 or 410 loses its subscription; so does a device revoked, for those made
from its sessions. Subscriptions are refused for anything but a push service's URL and
well-formed keys, and past the citizen's bound without changing anything. On SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import http_ece
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import TestClient

from app.settings import Settings
from core.encoding import b64url_decode, b64url_encode
from tests.conftest import migrated_database
from tests.issuers.conftest import PUBLIC_BASE_URL
from tests.wallet.phone import Phone
from wallet.services.context import WalletContext


@dataclass
class PushService:
    base: str
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def push_service() -> Iterator[PushService]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    service = PushService(f"http://127.0.0.1:{server.server_address[1]}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            path = urlsplit(self.path).path
            service.received.append((path, dict(self.headers.items()), body))
            status = {"/gone/": 410, "/missing/": 404}.get(path[: path.find("/", 1) + 1], 201)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(var_dir: Path, database_url: str, push_service: PushService) -> Settings:
    return Settings(
        var_dir=var_dir,
        database_url=migrated_database(database_url),
        public_base_url=PUBLIC_BASE_URL,
        outbound_allow=(push_service.base.removeprefix("http://"),),
    )


@dataclass
class Browser:
    """What ``pushManager.subscribe`` makes: a P-256 key pair and a 16-byte secret."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: secrets.token_bytes(16))

    def subscription(self, endpoint: str) -> dict[str, Any]:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": endpoint,
            "keys": {"p256dh": b64url_encode(point), "auth": b64url_encode(self.auth)},
            "expirationTime": None,
        }

    def decrypt(self, body: bytes) -> Any:
        return json.loads(
            http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        )


def _vapid_claims(authorization: str, server_key: str) -> dict[str, Any]:
    """RFC 8292 §3: ``vapid t=<JWT>, k=<key>``; the JWT verified with that key."""
    scheme, _, parameters = authorization.partition(" ")
    assert scheme == "vapid"
    parts = dict(p.strip().split("=", 1) for p in parameters.split(","))
    assert parts["k"] == server_key
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(server_key))
    claims: dict[str, Any] = jwt.decode(
        parts["t"], public, algorithms=["ES256"], options={"verify_aud": False}
    )
    header = jwt.get_unverified_header(parts["t"])
    assert header["alg"] == "ES256" and header["typ"] == "JWT"
    return claims


def _add_device(client: TestClient[Any], phone: Phone) -> None:
    added = client.post(
        "/wallet/devices",
        json={"device_proof": Phone(client).proof(by_kid=False), "device_name": "tablet"},
        headers=phone.headers,
    )
    assert added.status_code == 201, added.text


def test_a_notification_reaches_the_browser_encrypted_and_signed(
    client: TestClient[Any], push_service: PushService
) -> None:
    phone = Phone(client)
    phone.register()
    server_key = phone.get("/wallet/push-subscriptions/server-key").json()["application_server_key"]
    browser, lost = Browser(), Browser()
    kept = phone.post(
        "/wallet/push-subscriptions", browser.subscription(f"{push_service.base}/push/abc")
    )
    assert kept.status_code == 201, kept.text
    gone = phone.post(
        "/wallet/push-subscriptions", lost.subscription(f"{push_service.base}/gone/xyz")
    )
    assert gone.status_code == 201, gone.text

    _add_device(client, phone)
    context: WalletContext = client.app.state.wallet
    client.blocking_portal.call(context.notices.drain)

    by_path = {path: (headers, body) for path, headers, body in push_service.received}
    assert set(by_path) == {"/push/abc", "/gone/xyz"}
    headers, body = by_path["/push/abc"]
    assert headers["Content-Encoding"] == "aes128gcm"
    assert int(headers["TTL"]) > 0
    message = browser.decrypt(body)
    [told] = phone.get("/wallet/notifications").json()["notifications"]
    assert message == {
        "notification_id": told["notification_id"],
        "kind": "device_added",
        "unread": 1,
    }
    claims = _vapid_claims(headers["Authorization"], server_key)
    assert claims["aud"] == push_service.base
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    assert claims["sub"].startswith(("mailto:", "https://"))
    # the push service said the second subscription is gone: it is removed
    subscriptions = client.blocking_portal.call(
        context.store.push_subscriptions.list, str(phone.account_id)
    )
    assert [s.subscription_id for s in subscriptions] == [kept.json()["subscription_id"]]

    # the same browser subscribing again replaces its subscription
    again = phone.post(
        "/wallet/push-subscriptions", browser.subscription(f"{push_service.base}/push/abc")
    )
    assert again.status_code == 201
    subscriptions = client.blocking_portal.call(
        context.store.push_subscriptions.list, str(phone.account_id)
    )
    assert [s.subscription_id for s in subscriptions] == [again.json()["subscription_id"]]
    # sealed at rest: no endpoint in the clear
    assert b"/push/abc" not in subscriptions[0].sealed

    removed = phone.delete(f"/wallet/push-subscriptions/{again.json()['subscription_id']}")
    assert removed.status_code == 200 and removed.json()["deleted"] is True
    assert (
        phone.delete(f"/wallet/push-subscriptions/{again.json()['subscription_id']}").status_code
        == 404
    )


def test_only_a_push_services_url_and_real_keys_are_taken(
    client: TestClient[Any], push_service: PushService
) -> None:
    phone = Phone(client)
    phone.register()
    browser = Browser()

    def refused(body: dict[str, Any]) -> str:
        answer = phone.post("/wallet/push-subscriptions", body)
        assert answer.status_code == 400, answer.text
        error: str = answer.json()["error"]
        return error

    for endpoint in (
        "http://push.example.net/x",  # plain http to a host not allowed
        "https://127.0.0.1/x",  # a private address
        "file:///etc/passwd",
        f"{PUBLIC_BASE_URL}/wallet/notifications/read-all",  # this wallet itself
    ):
        assert refused(browser.subscription(endpoint)) == "invalid_request"
    body = browser.subscription(f"{push_service.base}/push/1")
    body["keys"]["p256dh"] = b64url_encode(b"\x04" + bytes(64))  # not a point on the curve
    assert refused(body) == "invalid_request"
    body = browser.subscription(f"{push_service.base}/push/1")
    body["keys"]["auth"] = "short"
    assert refused(body) == "invalid_request"
    body = browser.subscription(f"{push_service.base}/push/1")
    body["extra"] = 1
    assert refused(body) == "invalid_request"

    other = Phone(client)
    other.register()
    made = other.post(
        "/wallet/push-subscriptions", Browser().subscription(f"{push_service.base}/push/2")
    )
    assert made.status_code == 201
    foreign = phone.delete(f"/wallet/push-subscriptions/{made.json()['subscription_id']}")
    assert foreign.status_code == 404 and foreign.json()["error"] == "not_found"


def test_subscriptions_gone_at_the_push_service_or_with_their_device_are_removed(
    client: TestClient[Any], push_service: PushService
) -> None:
    context: WalletContext = client.app.state.wallet
    phone = Phone(client)
    phone.register()
    tablet = Phone(client)
    added = client.post(
        "/wallet/devices",
        json={"device_proof": tablet.proof(by_kid=False), "device_name": "tablet"},
        headers=phone.headers,
    )
    assert added.status_code == 201, added.text
    tablet.account_id, tablet.device_id = phone.account_id, added.json()["device_id"]
    tablet.login()
    on_phone = phone.post(
        "/wallet/push-subscriptions", Browser().subscription(f"{push_service.base}/push/p")
    ).json()["subscription_id"]
    on_tablet = tablet.post(
        "/wallet/push-subscriptions", Browser().subscription(f"{push_service.base}/push/t")
    ).json()["subscription_id"]
    missing = phone.post(
        "/wallet/push-subscriptions", Browser().subscription(f"{push_service.base}/missing/m")
    ).json()["subscription_id"]
    listed = phone.get("/wallet/push-subscriptions").json()["subscriptions"]
    assert {(s["subscription_id"], s["device_id"], s["current"]) for s in listed} == {
        (on_phone, phone.device_id, True),
        (on_tablet, tablet.device_id, False),
        (missing, phone.device_id, True),
    }

    _add_device(client, phone)  # told: pushed to the three; 404 says one is gone
    client.blocking_portal.call(context.notices.drain)
    left = [
        s["subscription_id"]
        for s in phone.get("/wallet/push-subscriptions").json()["subscriptions"]
    ]
    assert sorted(left) == sorted([on_phone, on_tablet])

    assert phone.delete(f"/wallet/devices/{tablet.device_id}").status_code == 204
    left = [
        s["subscription_id"]
        for s in phone.get("/wallet/push-subscriptions").json()["subscriptions"]
    ]
    assert left == [on_phone]


def test_a_subscription_past_the_bound_changes_nothing(
    client: TestClient[Any], push_service: PushService
) -> None:
    context: WalletContext = client.app.state.wallet
    cap = context.policy.push_subscriptions_per_account
    other = Phone(client)
    other.register()
    shared = Browser()  # a browser the other citizen subscribed first
    made = other.post(
        "/wallet/push-subscriptions", shared.subscription(f"{push_service.base}/push/shared")
    )
    assert made.status_code == 201
    phone = Phone(client)
    phone.register()
    for n in range(cap):
        answer = phone.post(
            "/wallet/push-subscriptions", Browser().subscription(f"{push_service.base}/push/{n}")
        )
        assert answer.status_code == 201, answer.text
    refused = phone.post(
        "/wallet/push-subscriptions", shared.subscription(f"{push_service.base}/push/shared")
    )
    assert refused.status_code == 409
    kept = other.get("/wallet/push-subscriptions").json()["subscriptions"]
    assert [s["subscription_id"] for s in kept] == [made.json()["subscription_id"]]
    again = phone.post(  # one of its own browsers subscribing again is no new one
        "/wallet/push-subscriptions", Browser().subscription(f"{push_service.base}/push/0")
    )
    assert again.status_code == 201


def test_this_wallets_origin_is_refused_however_written(
    client: TestClient[Any], push_service: PushService
) -> None:
    phone = Phone(client)
    phone.register()
    own = urlsplit(PUBLIC_BASE_URL)
    host, port = own.hostname or "", own.port or (443 if own.scheme == "https" else 80)
    for endpoint in (
        f"{own.scheme}://{host.upper()}:{port}/push/x",
        f"{own.scheme}://{host}.:{port}/push/x",
        f"{own.scheme}://{host}./push/x",
    ):
        answer = phone.post("/wallet/push-subscriptions", Browser().subscription(endpoint))
        assert answer.status_code == 400, endpoint
        assert answer.json()["error"] == "invalid_request"
