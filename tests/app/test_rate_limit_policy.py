"""The rate-limit configuration and the pieces of the limiter that need no server: which
endpoints are in which class, ``IDWALLET_RATE_LIMITS`` and its neighbours validated at
start-up, client addresses, the in-process store's sweeps, and a broken Redis (requests
are served unchecked, never answered 500)."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app import create_app
from app.rate_limit_policy import BY_NAME, CLASSES, OPT_KEY, parse_policy
from app.rate_limits import client_partition, in_process_storage
from app.settings import Settings, SettingsError
from tests.conftest import migrated_database
from tests.issuers.test_catalog import CITIZEN
from tests.issuers.test_issuance import create_offer
from tests.support.redis import redis_url, unique_key_prefix
from tests.support.server import free_port
from tests.wallet.phone import Phone

#: endpoints that are not limited: operations, the screens, the API documentation
UNLIMITED = ("/health", "/ready", "/metrics", "/schema", "/assets/", "/counter/", "/desk/")
#: Pages (static HTML, GET only): the wallet app and its callback, the verifier's
#: same-device landing page, and an agency's pages for presentation during issuance and
#: for the choice of a way to prove who you are; what they call is limited.
UNLIMITED_SCREENS = (
    "/wallet-app",
    "/wallet/callback",
    "/same-device",
    "/presentation-login/{login:str}",
    "/sign-in/{choice:str}",
    "/mediator",  # the mediator's screen (docs/mediators.md)
    "/oversight",
    "/wallet-app/sw.js",  # the web wallet's service worker, a static script like the screens
)


def _routes(app: Any) -> list[tuple[str, str, object]]:
    return [
        (method, route.path, handler.opt.get(OPT_KEY))
        for route in app.routes
        for handler in route.route_handlers
        for method in handler.http_methods
        if method != "OPTIONS"  # preflights are the framework's, never limited
    ]


def test_every_endpoint_has_a_class_or_is_an_operations_or_screen_endpoint(
    tmp_path: Path,
) -> None:
    app = create_app(Settings(var_dir=tmp_path, database_url="sqlite+aiosqlite:///:memory:"))
    routes = _routes(app)
    for method, path, name in routes:
        if path.startswith(UNLIMITED) or (method == "GET" and path.endswith(UNLIMITED_SCREENS)):
            assert name is None, (method, path)
        else:
            assert name in BY_NAME, (method, path, name)
    classes = {(m, p): n for m, p, n in routes}
    assert classes["POST", "/issuers/{issuer_id:str}/token"] == "token"
    assert classes["POST", "/wallet/sessions"] == "wallet_auth"
    # the choice's endpoints keep their controller's class beside their own options
    assert classes["GET", "/issuers/{issuer_id:str}/sign-in/{choice:str}/choose"] == "token"
    assert classes["POST", "/wallet/devices"] == "citizen"
    assert classes["POST", "/verifiers/{verifier_id:str}/responses/{request_id:str}"] == "response"
    assert {n for _, _, n in routes if n} == set(BY_NAME)  # every class has endpoints


def test_the_policy_format() -> None:
    default = parse_policy(None)
    assert default.enabled
    token = default.limit("token")
    assert token is not None and (token.amount, token.get_expiry()) == (60, 60)
    assert parse_policy("off").enabled is False
    assert parse_policy("off").limit("token") is None
    custom = parse_policy(" token=5/second , metadata=off,wallet_auth=10 per 5 minutes ")
    assert custom.limit("metadata") is None
    five = custom.limit("token")
    assert five is not None and (five.amount, five.get_expiry()) == (5, 1)
    slow = custom.limit("wallet_auth")
    assert slow is not None and (slow.amount, slow.get_expiry()) == (10, 300)
    nonce = custom.limit("nonce")  # untouched classes keep their defaults
    assert nonce is not None and nonce.amount == int(BY_NAME["nonce"].default.split("/")[0])
    assert "metadata=off" in custom.describe() and "token=5/1s" in custom.describe()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RATE_LIMITS", "tokens=5/minute", "unknown class 'tokens'"),
        ("RATE_LIMITS", "token", "is not class=rate"),
        ("RATE_LIMITS", "token=5/fortnight", "is not a rate"),
        ("RATE_LIMITS", "token=0/minute", "at least one request"),
        ("RATE_LIMITS", "token=5/minute,token=6/minute", "given twice"),
        ("REDIS_URL", "http://redis:6379", "redis://"),
        ("REDIS_KEY_PREFIX", "a b", "letters, digits"),
        ("TRUSTED_PROXIES", "10.0.0.1,*", "IP addresses or CIDR networks"),
        ("TRUSTED_PROXIES", "proxy.internal", "IP addresses or CIDR networks"),
        ("METRICS_PORT", "8000", "must differ"),
        ("METRICS_PORT", "0", "between 1 and 65535"),
        ("METRICS_TOKEN", "short", "at least 16"),
    ],
)
def test_invalid_values_stop_start_up_naming_the_variable(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=f"IDWALLET_{variable}") as raised:
        Settings.from_env({f"IDWALLET_{variable}": value})
    assert message in str(raised.value)


def test_the_neighbouring_settings() -> None:
    settings = Settings.from_env(
        {
            "IDWALLET_TRUSTED_PROXIES": "10.0.0.7, 192.168.0.0/16, 2001:db8::/32",
            "IDWALLET_REDIS_URL": "rediss://cache.internal:6380/2",
            "IDWALLET_METRICS_PORT": "9100",
        }
    )
    assert settings.trusted_proxies == ("10.0.0.7/32", "192.168.0.0/16", "2001:db8::/32")
    assert settings.redis_url == "rediss://cache.internal:6380/2"
    assert settings.metrics_port == 9100 and not settings.metrics_on_public_port
    assert Settings.from_env({}).metrics_on_public_port  # development
    production = Settings(environment="production")
    assert not production.metrics_on_public_port
    assert Settings(environment="production", metrics_token="t" * 16).metrics_on_public_port


@pytest.mark.parametrize(
    ("client", "partition"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::7", "2001:db8:1:2::/64"),  # one subscriber's /64
        ("testclient", "testclient"),
    ],
)
def test_clients_are_counted_by_address_and_ipv6_by_its_64(client: str, partition: str) -> None:
    assert client_partition({"client": (client, 50000)}) == partition  # type: ignore[typeddict-item]


async def test_the_in_process_store_sweeps_at_most_every_interval() -> None:
    """limits' storage would start a sweep of every counter after each hit."""
    storage = in_process_storage()
    for n in range(200):
        assert await storage.incr(f"client-{n}", 60) == 1
        await asyncio.sleep(0)  # the sweep of the previous hit, if any, finishes
    first = storage.timer
    assert first is not None
    for n in range(200):
        await storage.incr(f"client-{n}", 60)
        await asyncio.sleep(0)
    assert storage.timer is first  # no second sweep within the interval
    assert await storage.incr("client-0", 60) == 3  # counting is limits' own


def test_an_unreachable_redis_leaves_requests_served_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="idwallet.rate_limits")
    url = migrated_database(f"sqlite+aiosqlite:///{tmp_path / 'idwallet.db'}")
    settings = Settings(
        var_dir=tmp_path,
        database_url=url,
        rate_limits=parse_policy("nonce=1/minute"),
        redis_url=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
    )
    with TestClient(app=create_app(settings)) as client:
        statuses = [client.post("/issuers/civil-registry/nonce").status_code for _ in range(5)]
        metrics = client.get("/metrics").text
    assert statuses == [200] * 5  # fail open: over the limit, yet served; never a 500
    warnings = [r.getMessage() for r in caplog.records if r.name == "idwallet.rate_limits"]
    assert len(warnings) == 1 and "NOT ENFORCED" in warnings[0], warnings
    assert "idwallet_rate_limit_unchecked_total" in metrics
    unchecked = [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("idwallet_rate_limit_unchecked_total ")
    ]
    assert unchecked and unchecked[0] >= 5


def test_every_class_is_documented() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for endpoint_class in CLASSES:
        assert f"`{endpoint_class.name}`" in readme, endpoint_class.name


def test_counting_on_redis_survives_a_flush_of_its_scripts(tmp_path: Path) -> None:
    """The increments go to Redis in pipelines that name limits' script by its digest;
    a Redis that forgot it (restarted, SCRIPT FLUSH) gets it again, and nothing is lost."""
    url = migrated_database(f"sqlite+aiosqlite:///{tmp_path / 'idwallet.db'}")
    server = redis_url()
    settings = Settings(
        var_dir=tmp_path,
        database_url=url,
        rate_limits=parse_policy("nonce=3/minute"),
        redis_url=server,
        redis_key_prefix=unique_key_prefix(),
    )
    with TestClient(app=create_app(settings)) as client:
        first = [client.post("/issuers/civil-registry/nonce") for _ in range(2)]
        host, port = server.split("://")[1].split("/")[0].split(":")
        with socket.create_connection((host, int(port))) as redis:
            redis.sendall(b"SCRIPT FLUSH\r\n")
            assert redis.recv(16).startswith(b"+OK")
        then = [client.post("/issuers/civil-registry/nonce") for _ in range(2)]
    assert [r.headers["ratelimit"] for r in first] == ['"nonce";r=2', '"nonce";r=1']
    assert [r.status_code for r in then] == [200, 429]
    assert then[0].headers["ratelimit"] == '"nonce";r=0'


def test_a_429_speaks_the_error_format_of_its_endpoint(tmp_path: Path) -> None:
    """The same-device release is in the response class with the wallets' response
    endpoints, but answers problem details like the rest of the counter API."""
    url = migrated_database(f"sqlite+aiosqlite:///{tmp_path / 'idwallet.db'}")
    settings = Settings(
        var_dir=tmp_path, database_url=url, rate_limits=parse_policy("response=1/minute")
    )
    release = "/verifiers/bar-age-check/presentations/no-such-transaction/release"
    response_uri = "/verifiers/bar-age-check/responses/no-such-request"
    with TestClient(app=create_app(settings)) as client:
        refused_release = [client.post(release, json={}) for _ in range(2)][1]
    with TestClient(app=create_app(settings)) as client:
        refused_response = [client.post(response_uri, data={}) for _ in range(2)][1]
    assert refused_release.status_code == refused_response.status_code == 429
    assert refused_release.headers["content-type"].startswith("application/problem+json")
    assert refused_release.json()["violated-policies"] == ["response"]
    assert refused_response.json()["error"] == "rate_limited"


def test_the_deployments_requests_to_itself_are_not_counted(tmp_path: Path) -> None:
    """A citizen's wallet here receives this deployment's credentials in process: those
    token requests were caused by the citizen's own (counted) request and all come from
    one internal client, which would otherwise spend one budget for every citizen."""
    base = "https://id.example.gov"
    url = migrated_database(f"sqlite+aiosqlite:///{tmp_path / 'idwallet.db'}")
    settings = Settings(
        var_dir=tmp_path,
        database_url=url,
        public_base_url=base,
        rate_limits=parse_policy("token=1/minute,offer=1/minute"),
    )
    with TestClient(app=create_app(settings), base_url=base) as client:
        phone = Phone(client)
        phone.register()
        for subject in ("first", "second", "third"):  # each: an offer and a token request
            created = create_offer(
                client, "civil-registry", "national_id", CITIZEN, subject=subject
            )
            phone.receive(created["offer_uri"])  # asserts that it was received
        from_outside = [
            client.post("/issuers/civil-registry/token", data={}).status_code for _ in range(2)
        ]
    assert from_outside == [400, 429]
