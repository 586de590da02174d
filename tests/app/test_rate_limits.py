"""Rate limits on a real ``idwallet serve``: per class of endpoints a burst past its limit
is refused with 429, ``Retry-After`` and the RateLimit header fields, while another
client (another source address, another account, agency or relying party) goes on being
served. On SQLite with the in-process store, and on PostgreSQL with Redis and two workers,
where exactly the limit is served however the burst spreads over the workers. The client
address is the socket's; ``X-Forwarded-For`` counts only from a trusted proxy."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.rate_limit_policy import CLASSES
from tests.conftest import backend_url, migrated_database
from tests.support.redis import redis_url, unique_key_prefix
from tests.support.server import RunningServer, running_server
from tests.support.workers import worker_of
from tests.wallet.phone import Phone

LIMIT = 3
EVERY_CLASS_AT_LIMIT = ",".join(f"{c.name}={LIMIT}/minute" for c in CLASSES)
OPERATOR, OTHER_OPERATOR = "civil-registry", "transport-agency"
COUNTER, OTHER_COUNTER = "bar-age-check", "city-hall-counter"


def client_from(server: RunningServer, address: str = "127.0.0.1") -> httpx.Client:
    """A client whose connections leave from ``address`` (all of 127/8 is loopback), one
    connection per request, so that requests spread over the server's workers."""
    return httpx.Client(
        base_url=server.base_url,
        transport=httpx.HTTPTransport(local_address=address),
        limits=httpx.Limits(max_keepalive_connections=0),
        timeout=30,
    )


@dataclass(frozen=True)
class Probe:
    """One request of an endpoint class; ``who`` names whose credential it carries."""

    endpoint_class: str
    method: str
    path: str
    who: str | None = None


PROBES = (
    Probe("token", "POST", "/issuers/civil-registry/token"),
    Probe("nonce", "POST", "/issuers/civil-registry/nonce"),
    Probe("credential", "POST", "/issuers/civil-registry/credential"),
    Probe("offer", "GET", "/issuers/civil-registry/credential-offers/no-such-offer"),
    Probe("metadata", "GET", "/.well-known/openid-credential-issuer/issuers/civil-registry"),
    Probe("request_object", "GET", "/verifiers/bar-age-check/requests/no-such-request"),
    Probe("response", "POST", "/verifiers/bar-age-check/responses/no-such-request"),
    Probe("wallet_auth", "POST", "/wallet/challenges"),
    Probe("citizen", "GET", "/wallet/credentials", who="citizen"),
    Probe("operator", "GET", f"/issuers/{OPERATOR}/audit", who=OPERATOR),
    Probe("counter", "GET", f"/verifiers/{COUNTER}/presentations/checks", who=COUNTER),
    # counted per address: an unknown key is refused (401), within the budget
    Probe("mediator", "GET", "/mediator/api/me"),
    Probe("oversight", "GET", "/oversight/api/auditor"),
)


def test_every_class_is_probed() -> None:
    assert {p.endpoint_class for p in PROBES} == {c.name for c in CLASSES}


class Credentials:
    """The bearer credentials of two citizens, two agencies and two relying parties."""

    def __init__(self, server: RunningServer, var_dir: Path) -> None:
        keys: dict[str, str] = json.loads((var_dir / "operator-keys.json").read_text())
        self.bearer = {name: keys[name] for name in (OPERATOR, OTHER_OPERATOR, COUNTER)}
        self.bearer[OTHER_COUNTER] = keys[OTHER_COUNTER]
        for name, address in (("citizen", "127.0.0.3"), ("other citizen", "127.0.0.4")):
            with client_from(server, address) as client:  # wallet_auth counts per address
                phone = Phone(client)
                phone.register()
                assert phone.access_token is not None
                self.bearer[name] = phone.access_token

    def headers(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.bearer[who]}"}


def send(
    client: httpx.Client, probe: Probe, credentials: Credentials, who: str | None = None
) -> httpx.Response:
    headers = credentials.headers(who if who is not None else probe.who)
    return client.request(probe.method, probe.path, headers=headers)


def assert_refused(response: httpx.Response, probe: Probe) -> None:
    assert response.status_code == 429, response.text
    name = probe.endpoint_class
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= 60
    assert response.headers["ratelimit-policy"] == f'"{name}";q={LIMIT};w=60'
    assert response.headers["ratelimit"] == f'"{name}";r=0;t={seconds}'
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    if name in ("operator", "counter", "oversight"):  # problem details, as their APIs answer
        assert response.headers["content-type"].startswith("application/problem+json")
        assert body["status"] == 429 and body["violated-policies"] == [name]
    else:  # OAuth error JSON, like every protocol error
        assert body["error"] == "rate_limited", body


def assert_served(response: httpx.Response, probe: Probe) -> None:
    assert response.status_code != 429, (probe, response.text)
    assert re.fullmatch(rf'"{probe.endpoint_class}";r=\d+', response.headers["ratelimit"])


BURST = 12


def pinned_connections(server: RunningServer, workers: int) -> list[httpx.Client]:
    """``BURST`` kept-alive connections from 127.0.0.1, as many to each of the server's
    ``workers`` (new connections until each worker holds its share): a burst over them
    reaches every worker, whatever the kernel does with new connections."""
    if workers == 1:
        return [client_from(server) for _ in range(BURST)]
    port = int(server.base_url.rsplit(":", 1)[1])
    share = BURST // workers
    pinned: dict[int, list[httpx.Client]] = {}
    for _ in range(BURST * 10):
        connection = httpx.Client(
            base_url=server.base_url,
            transport=httpx.HTTPTransport(local_address="127.0.0.1"),
            timeout=30,
        )
        worker = worker_of(server.process.pid, port, connection.get("/health"))
        held = pinned.setdefault(worker, [])
        if len(held) < share:
            held.append(connection)
        else:
            connection.close()
        if len(pinned) == workers and all(len(c) == share for c in pinned.values()):
            return [c for held in pinned.values() for c in held]
    raise AssertionError(f"connections reached the workers {sorted(pinned)} too unevenly")


def burst_every_class(server: RunningServer, var_dir: Path, *, workers: int = 1) -> None:
    credentials = Credentials(server, var_dir)
    other_principal = {
        "citizen": "other citizen",
        "operator": OTHER_OPERATOR,
        "counter": OTHER_COUNTER,
    }
    connections = pinned_connections(server, workers)
    with client_from(server) as crowd, client_from(server, "127.0.0.2") as neighbour:
        for probe in PROBES:
            with ThreadPoolExecutor(max_workers=BURST) as pool:  # at once, over every worker
                burst = list(pool.map(send, connections, [probe] * BURST, [credentials] * BURST))
            served = [r for r in burst if r.status_code != 429]
            assert len(served) == LIMIT, (probe, [r.status_code for r in burst])
            for response in served:
                assert_served(response, probe)
            for response in burst:
                if response.status_code == 429:
                    assert_refused(response, probe)
            assert_refused(send(crowd, probe, credentials), probe)
            if probe.endpoint_class in other_principal:
                # counted per principal: another one is served from the same address, the
                # same one is refused from another address
                other = other_principal[probe.endpoint_class]
                assert_served(send(crowd, probe, credentials, who=other), probe)
                assert_refused(send(neighbour, probe, credentials), probe)
            else:  # counted per address: another address is served all along
                assert_served(send(neighbour, probe, credentials), probe)
    for connection in connections:
        connection.close()


def test_a_burst_per_class_on_sqlite_in_process(var_dir: Path) -> None:
    with running_server(var_dir, IDWALLET_RATE_LIMITS=EVERY_CLASS_AT_LIMIT) as server:
        burst_every_class(server, var_dir)
    assert "rate limits (memory store)" in server.output


@pytest.mark.postgres
def test_a_burst_per_class_on_postgresql_and_redis_with_two_workers(
    var_dir: Path, tmp_path: Path
) -> None:
    url = migrated_database(backend_url("postgresql", tmp_path))
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    with running_server(
        var_dir,
        IDWALLET_DATABASE_URL=url,
        IDWALLET_WORKERS="2",
        IDWALLET_RATE_LIMITS=EVERY_CLASS_AT_LIMIT,
        IDWALLET_REDIS_URL=redis_url(),
        IDWALLET_REDIS_KEY_PREFIX=unique_key_prefix(),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    ) as server:
        burst_every_class(server, var_dir, workers=2)
        # both workers answered requests of the bursts (each writes its own latency file)
        workers = {p.name.split("_")[-1] for p in metrics_dir.glob("histogram_*.db")}
    assert len(workers) == 2, sorted(p.name for p in metrics_dir.iterdir())
    assert server.output.count("rate limits (redis store)") == 2


NONCE = Probe("nonce", "POST", "/issuers/civil-registry/nonce")


@pytest.fixture
def behind_a_proxy(var_dir: Path) -> Iterator[RunningServer]:
    with running_server(
        var_dir, IDWALLET_RATE_LIMITS=f"nonce={LIMIT}/minute", IDWALLET_TRUSTED_PROXIES="127.0.0.1"
    ) as server:
        yield server


def _nonce(client: httpx.Client, forwarded_for: str) -> httpx.Response:
    return client.post(NONCE.path, headers={"X-Forwarded-For": forwarded_for})


def test_forwarded_for_is_believed_from_a_trusted_proxy(behind_a_proxy: RunningServer) -> None:
    with (
        client_from(behind_a_proxy) as proxy,
        client_from(behind_a_proxy, "127.0.0.2") as stranger,
    ):
        # the proxy appends the address it saw; anything left of it is the client's claim
        statuses = [_nonce(proxy, "10.9.9.9, 198.51.100.7").status_code for _ in range(LIMIT)]
        assert statuses == [200] * LIMIT
        assert_refused(_nonce(proxy, "198.51.100.7"), NONCE)
        assert_served(_nonce(proxy, "198.51.100.8"), NONCE)  # another citizen, same proxy
        # not a trusted proxy: its X-Forwarded-For is not believed, its own address counts
        for _ in range(LIMIT):
            assert_served(_nonce(stranger, "198.51.100.7"), NONCE)
        assert_refused(_nonce(stranger, "198.51.100.99"), NONCE)


def test_forwarded_for_is_ignored_without_trusted_proxies(var_dir: Path) -> None:
    with (
        running_server(var_dir, IDWALLET_RATE_LIMITS=f"nonce={LIMIT}/minute") as server,
        client_from(server) as client,
    ):
        for n in range(LIMIT):
            assert_served(_nonce(client, f"198.51.100.{n}"), NONCE)
        assert_refused(_nonce(client, "198.51.100.200"), NONCE)
